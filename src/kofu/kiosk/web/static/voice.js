// The kiosk's voice guidance: plays the screen's clips in order and shows each
// one's text as a caption while it plays (every sound is also text). A clip
// with "repeat" plays again after that many seconds until the screen changes
// (「証明書をお取りください」 until the resident presses stop). What was played is
// kept in window.kofuVoice for the kiosk's own tests; personal clips are only
// ever in the list in earphone mode (the server leaves them out otherwise).
(() => {
  const clips = JSON.parse(document.getElementById("voice-data").textContent);
  const caption = document.getElementById("caption-text");
  const state = window.kofuVoice = { mode: document.body.dataset.audio, played: [], failed: [] };
  const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));
  const play = (clip) => new Promise((resolve) => {
    const audio = new Audio(clip.src);
    audio.addEventListener("ended", resolve);
    audio.addEventListener("error", () => { state.failed.push(clip.id); resolve(); });
    audio.play().then(() => state.played.push({ id: clip.id, text: clip.text, personal: clip.personal }),
                      () => { state.failed.push(clip.id); resolve(); });
  });
  // A clip said out of turn (the idle warning): shown and played at once.
  state.say = (clip) => { caption.textContent = clip.text; play(clip); };
  (async () => {
    for (let i = 0; i < clips.length; i++) {
      caption.textContent = clips[i].text;
      await play(clips[i]);
      if (clips[i].repeat) { await sleep(clips[i].repeat); i--; }
    }
  })();
})();
