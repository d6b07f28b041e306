// Shows that a verification is running and prevents a second submit while it does.
// Loaded as a file (the Content-Security-Policy allows no inline script).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("verify-form");
  if (!form) return;
  // On a phone the inputs open the camera (capture="environment", images only); with a
  // mouse there is no camera to open, and a scanner's PDF is welcome too.
  if (!window.matchMedia("(pointer: coarse)").matches) {
    for (const input of form.querySelectorAll("input[data-accept-desktop]")) {
      input.setAttribute("accept", input.dataset.acceptDesktop);
    }
  }
  form.addEventListener("submit", () => {
    const button = document.getElementById("submit");
    const busy = document.getElementById("busy");
    if (button) button.disabled = true;
    if (busy) busy.hidden = false;
  });
  // Coming back with the browser's back button must not leave the form disabled.
  window.addEventListener("pageshow", () => {
    const button = document.getElementById("submit");
    const busy = document.getElementById("busy");
    if (button) button.disabled = false;
    if (busy) busy.hidden = true;
  });
});
