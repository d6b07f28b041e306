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
