#!/usr/bin/env bash
# Install the Debian packages Kofu needs when they are missing:
#   fonts-ipamj-mincho  IPAmj明朝, the 文字情報基盤 (MJ) font the certificates use
#   poppler-utils       pdftotext, pdfsig, pdffonts: how tests check certificates as a user would
#   libnss3-tools       certutil: a throw-away NSS database so pdfsig can trust the test CA
#   chromium            the real browser for the web-page tests (Playwright drives it)
#   fonts-nanum         a Korean font: the touch kiosk's 한국어 screens (and their screenshots)
#   fonts-droid-fallback  a CJK font with simplified and traditional Chinese: its 中文 screens
#   espeak-ng           the speech synthesizer that makes the touch kiosk's voice guidance at build time
#   wrk                 the HTTP load generator of `make bench`
#   ghostscript         gs -sDEVICE=tiffsep: the ink separations the latent-image test inspects
#   pcscd               the PC/SC daemon: the kiosk's real card reader path (docs/devices.md)
#   vsmartcard-vpcd     pcscd's virtual reader driver: a card file is put in it (kofu.jpki.vpcd)
#   libpcsclite-dev     to build pyscard (PyPI has no Linux wheel; its swig comes from PyPI)
#   cups                the print scheduler, lp and lpstat: the kiosk's real printer path
#   libcups2-dev        to build pycups (the job states the kiosk's CUPS printer follows)
#   gcc, python3-dev    to build those two (only when missing)
set -euo pipefail
need=()
[ -e /usr/share/fonts/truetype/ipamj/ipamjm.ttf ] || need+=(fonts-ipamj-mincho)
command -v pdfsig >/dev/null || need+=(poppler-utils)
command -v certutil >/dev/null || need+=(libnss3-tools)
command -v wrk >/dev/null || need+=(wrk)
command -v chromium >/dev/null || need+=(chromium)
[ -e /usr/share/fonts/truetype/nanum/NanumGothic.ttf ] || need+=(fonts-nanum)
[ -e /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || need+=(fonts-droid-fallback)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v gs >/dev/null || need+=(ghostscript)
[ -x /usr/sbin/pcscd ] || need+=(pcscd)
[ -e /usr/lib/pcsc/drivers/serial/libifdvpcd.so ] || need+=(vsmartcard-vpcd)
[ -e /usr/include/PCSC/winscard.h ] || need+=(libpcsclite-dev)
[ -x /usr/sbin/cupsd ] && command -v lp >/dev/null || need+=(cups)
[ -e /usr/include/cups/cups.h ] || need+=(libcups2-dev)
command -v gcc >/dev/null || need+=(gcc)
# pyscard and pycups build against Python's headers: Debian's python3-dev when python3 is Debian's.
python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' \
  || need+=(python3-dev)
[ ${#need[@]} -eq 0 ] && exit 0
echo "Installing Debian packages: ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "error: need root to install ${need[*]}; run: apt-get install ${need[*]}" >&2; exit 1
  fi
else SUDO=; fi
if ! command -v apt-get >/dev/null; then
  echo "error: no apt-get here; install these packages by hand: ${need[*]}" >&2; exit 1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
