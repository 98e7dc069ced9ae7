// Shared by the Odds and Advisor pages: number formatting, escaping, and polling a
// background job until it ends (saying so when the server is gone).
"use strict";

const GIVE_UP_AFTER = 4; // failed polls in a row (about 5 s) before the page says the server is gone

function fmt(x, digits = 2) {
  return x === null || x === undefined ? "—" : Number(x).toLocaleString("en-US", { maximumFractionDigits: digits });
}

function esc(text) {
  const div = document.createElement("div");
  div.textContent = String(text);
  return div.innerHTML;
}

function pathsDone(job) {
  return `${fmt(job.done_paths, 0)} of ${fmt(job.total_paths, 0)} paths`;
}

// Poll the job of `section` (data-job), show its progress, then `render(result, out)`;
// `stage(job)` words the progress (default: paths done).
async function pollJob(section, out, render, stage = pathsDone) {
  const id = section.dataset.job;
  const bar = document.getElementById("progress");
  const text = document.getElementById("progress-text");
  let misses = 0;
  for (;;) {
    let response, job;
    try {
      response = await fetch(`/api/v1/jobs/${encodeURIComponent(id)}`, { cache: "no-store" });
      job = await response.json();
      misses = 0;
    } catch (err) {
      // the server is gone (stopped, or the network): say so rather than freeze
      misses += 1;
      if (misses >= GIVE_UP_AFTER) {
        text.dataset.state = "lost";
        text.textContent = "the server is not answering";
        out.innerHTML = `<div class="errors" role="alert" data-testid="server-gone">The server stopped ` +
          `answering (it was stopped, or the connection is down), so this run's progress is unknown. ` +
          `Jobs end with the server: start it again and run it again.</div>`;
        return;
      }
      text.textContent = `the server is not answering (try ${misses} of ${GIVE_UP_AFTER})…`;
      await new Promise((r) => setTimeout(r, 500 * misses));
      continue;
    }
    if (!response.ok) {
      text.dataset.state = "failed";
      text.textContent = String(job.detail);
      out.innerHTML = `<div class="errors" role="alert" data-testid="errors">${esc(job.detail)}</div>`;
      return;
    }
    bar.max = job.total_paths;
    bar.value = job.done_paths;
    text.textContent = `${job.state}: ${stage(job)}, ${fmt(job.elapsed_s, 1)} s`;
    if (job.state === "done") {
      text.dataset.state = "done";
      render(job.result, out);
      if (job.saved_id) {
        const sid = Number(job.saved_id);
        out.insertAdjacentHTML("beforeend", `<p>Saved as <a href="/saved/${sid}">#${sid}</a>.</p>`);
      }
      return;
    }
    if (job.state === "failed") {
      text.dataset.state = "failed";
      out.innerHTML = `<div class="errors" role="alert" data-testid="errors">${esc(job.error)}</div>`;
      return;
    }
    await new Promise((r) => setTimeout(r, 400));
  }
}

// A job page: poll its job, or draw a saved result; the result goes into #`outId`.
function jobPage(outId, render, stage) {
  document.addEventListener("DOMContentLoaded", () => {
    const out = document.getElementById(outId);
    const section = document.getElementById("job");
    if (section) pollJob(section, out, render, stage);
    const saved = document.getElementById("saved-result");
    if (saved) render(JSON.parse(saved.textContent), out);
  });
}
