// mdc's core under Pyodide (CPython in WebAssembly), loaded from this server only: the
// interpreter from /ui/vendor/pyodide, mdc's Python from /ui/py/mdc-browser.zip. No package is
// fetched from a CDN (Pyodide offline loads pure Python only; the zip carries what mdc needs).

const BUNDLE_DIR = "/mdc-browser";
let booting = null;

export function python() {
  if (booting === null) booting = boot();
  return booting;
}

async function boot() {
  const { loadPyodide } = await import("/ui/vendor/pyodide/pyodide.mjs");
  const py = await loadPyodide({ indexURL: "/ui/vendor/pyodide/", fullStdLib: false });
  const reply = await fetch("/ui/py/mdc-browser.zip");
  if (!reply.ok) throw new Error(`mdc-browser.zip: HTTP ${reply.status}`);
  py.unpackArchive(await reply.arrayBuffer(), "zip", { extractDir: BUNDLE_DIR });
  py.runPython(`import sys; sys.path.insert(0, "${BUNDLE_DIR}"); import mdc_dashboard`);
  return py;
}

// A fresh mdc_dashboard.Dashboard: its own FeatureTracker, fed with JSON lines.
export async function newDashboard() {
  const py = await python();
  return py.globals.get("mdc_dashboard").Dashboard();
}
