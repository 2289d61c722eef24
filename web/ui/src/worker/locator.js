// Shares the phone's position while the worker is on duty. Fixes are
// thinned (a new one is sent after moving or after a while) so a phone
// neither floods the server nor drains its battery.
const MIN_INTERVAL_MS = 15_000;
const MIN_MOVE_M = 50;

export class Locator {
  constructor({ onFix, onState }) {
    this.onFix = onFix;
    this.onState = onState;
    this.watch = null;
    this.state = { fix: null, denied: false };
    this.lastSent = null;
  }

  enable(on) {
    if (on && this.watch === null && 'geolocation' in navigator) {
      this.watch = navigator.geolocation.watchPosition(
        (p) => this.fix(p.coords),
        (err) => {
          this.state.denied = err.code === err.PERMISSION_DENIED;
          this.onState();
        },
        { enableHighAccuracy: true, maximumAge: 10_000, timeout: 30_000 },
      );
    } else if (!on && this.watch !== null) {
      navigator.geolocation.clearWatch(this.watch);
      this.watch = null;
      this.lastSent = null;
    }
  }

  fix(c) {
    const fix = { lat: c.latitude, lng: c.longitude, accuracy: c.accuracy || 0, at: Date.now() };
    const wasDenied = this.state.denied;
    this.state = { fix, denied: false };
    const last = this.lastSent;
    if (!last || fix.at - last.at >= MIN_INTERVAL_MS || metres(last, fix) >= MIN_MOVE_M) {
      this.lastSent = fix;
      this.onFix(fix);
    }
    if (wasDenied || !last) this.onState();
  }
}

function metres(a, b) {
  const r = Math.PI / 180;
  const x = (b.lng - a.lng) * r * Math.cos(((a.lat + b.lat) / 2) * r);
  const y = (b.lat - a.lat) * r;
  return Math.hypot(x, y) * 6371008.8;
}
