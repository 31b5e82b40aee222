// What a touch says about the device: coarse, low-entropy hints only.
// No high-entropy client hints, canvas, fonts or anything else that fingerprints.

export function hints() {
  const n = navigator as Navigator & { userAgentData?: { mobile: boolean; platform: string } };
  return {
    r: document.referrer || undefined, // JSON.stringify leaves undefined keys out
    w: screen.width,
    h: screen.height,
    d: devicePixelRatio,
    l: n.language,
    z: Intl.DateTimeFormat().resolvedOptions().timeZone,
    // Chromium only, and only in secure contexts; elsewhere both are left out
    mo: n.userAgentData?.mobile,
    pf: n.userAgentData?.platform,
  };
}
