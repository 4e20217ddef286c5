// Polls /readyz while the service loads, shows the stage and its progress, and reloads the page
// (the same address, so a panel's ?token= is kept) once the service answers ready.

const POLL_MS = 1000;
const stage = document.getElementById("stage");
const bar = document.getElementById("progress");

function show(body) {
  if (body.status === "failed") {
    stage.textContent = `The start failed (${body.error}); see the service's log.`;
    bar.hidden = true;
    return false;
  }
  const counts = body.total ? ` (${body.done}/${body.total})` : "";
  stage.textContent = `${body.stage || "Starting"}${counts}`;
  bar.hidden = !body.total;
  if (body.total) {
    bar.max = body.total;
    bar.value = body.done;
  }
  return true;
}

async function poll() {
  try {
    const body = await (await fetch("/readyz", { cache: "no-store" })).json();
    // "unavailable": started, but the log database does not answer; the page itself says so.
    if (body.status === "ready" || body.status === "unavailable") {
      window.location.reload();
      return;
    }
    if (!show(body)) return;
  } catch {
    stage.textContent = "Waiting for the service…";
  }
  setTimeout(poll, POLL_MS);
}

poll();
