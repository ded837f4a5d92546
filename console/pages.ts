// The console's pages as server-rendered HTML: a layout, and for each page the fragment that live
// updates replace (<main id="live">). Pure functions of the models in model.ts; every value from
// the cloud goes through html`` and is escaped.
import type { HistoryRow } from '../cli/commands/history.ts';
import { shortDigest } from '../services/shared/image-ref.ts';
import { html, type Html, safeHref } from './html.ts';
import type {
  Action,
  Card,
  CanaryStep,
  JobRow,
  ReleaseModel,
  Snapshot,
  TrafficBar,
} from './model.ts';

export interface Assets {
  script: string;
  style: string;
}

export interface LayoutOptions {
  title: string;
  /** The page's path and query, which the live updates follow. */
  path: string;
  token: string;
  assets: Assets;
  snapshot: Pick<Snapshot, 'kind' | 'project' | 'region' | 'timeScale' | 'member'>;
  body: Html;
}

const short = (digest: string | null) => (digest ? shortDigest(digest) : '-');

export function seconds(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '-';
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** The whole document around a page's live fragment. */
export function layout(o: LayoutOptions): Html {
  const s = o.snapshot;
  const where =
    s.kind === 'local'
      ? `local cloud · ${s.project} · ${s.region}${s.timeScale > 1 ? ` · time ×${s.timeScale}` : ''}`
      : `Google Cloud · ${s.project} · ${s.region}`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · runway console</title>
<link rel="stylesheet" href="/assets/${o.assets.style}">
<script type="module" src="/assets/${o.assets.script}"></script>
</head>
<body>
<a class="skip" href="#live">Skip to content</a>
<header class="top">
<nav aria-label="Console"><a href="/" class="brand">runway</a> <a href="/">Pipelines</a> <a href="/logs?workflows=1">Workflow logs</a></nav>
<p class="where">${where}${s.member ? html` · acting as <span class="member">${s.member}</span>` : ''}</p>
</header>
<main id="live" data-events="/events?page=${encodeURIComponent(o.path)}" tabindex="-1">
${o.body}
</main>
<div id="status" class="status" role="status" aria-live="polite"></div>
<dialog id="confirm" aria-labelledby="confirm-title">
<form method="post" action="/actions" id="confirm-form">
<h2 id="confirm-title">Confirm</h2>
<p id="confirm-text"></p>
<input type="hidden" name="token" value="${o.token}">
<input type="hidden" name="action" value="">
<input type="hidden" name="pipeline" value="">
<input type="hidden" name="execution" value="">
<input type="hidden" name="to" value="">
<label for="confirm-reason">Reason (recorded with the decision)</label>
<textarea id="confirm-reason" name="reason" rows="3" maxlength="1000"></textarea>
<div class="buttons"><button type="submit" class="primary">Confirm</button> <button type="button" id="confirm-cancel">Cancel</button></div>
</form>
</dialog>
</body>
</html>
`;
}

function segmentLabel(seg: TrafficBar['segments'][number]): string {
  const tags = seg.tags.length ? `, tags ${seg.tags.join(', ')}` : '';
  return `${seg.role === 'other' ? seg.revision : seg.role} ${seg.percent}% (${seg.revision}, ${short(seg.digest)}${tags})`;
}

export function trafficBar(b: TrafficBar): Html {
  const label = b.segments.length
    ? b.segments.map(segmentLabel).join('; ')
    : 'no revision serves traffic';
  return html`<div class="traffic" data-service="${b.service}">
<p class="bar-label">${b.service} <span class="muted">· ${b.region}</span></p>
<div class="bar" role="img" aria-label="${b.service} in ${b.region}: ${label}">${b.segments
    .filter((x) => x.percent > 0)
    .map(
      (x) =>
        html`<span class="seg ${x.role} w${Math.round(x.percent)}" data-percent="${x.percent}" data-role="${x.role}" title="${segmentLabel(x)}">${x.role === 'other' ? '' : x.role} ${x.percent}%</span>`,
    )}</div>
<ul class="legend">${b.segments.map(
    (x) =>
      html`<li><span class="dot ${x.role}" aria-hidden="true"></span>${x.role} ${x.percent}% · <code>${x.revision}</code>${x.tags.length ? html` · tags ${x.tags.join(', ')}` : ''}</li>`,
  )}</ul>
</div>`;
}

function countdown(endsAt: number, now: number): Html {
  const left = Math.max(0, Math.ceil((endsAt - now) / 1000));
  return html`<time data-until="${endsAt}">${left} s</time>`;
}

function steps(list: CanaryStep[]): Html {
  return html`<ol class="steps">${list.map(
    (x, i) =>
      html`<li class="step ${x.state}"${x.state === 'current' ? html` aria-current="step"` : ''}>step ${i + 1}: ${x.percent}% <span class="muted">(${x.state})</span>${x.analysis ? html` · ${x.analysis}` : ''}</li>`,
  )}</ol>`;
}

function outcomeBadge(outcome: string): Html {
  return html`<span class="badge ${outcome.toLowerCase()}">${outcome}</span>`;
}

/** A job pipeline's jobs: the digest each runs and its newest execution (a job has no traffic). */
function jobTable(rows: JobRow[]): Html {
  return html`<table class="jobs" aria-label="Jobs">
<thead><tr><th scope="col">Job</th><th scope="col">Role</th><th scope="col">Digest</th><th scope="col">Latest execution</th></tr></thead>
<tbody>${rows.map(
    (j) =>
      html`<tr><td>${j.job}</td><td>${j.role}</td><td><code>${short(j.digest)}</code></td><td>${j.exists ? (j.latestExecution ?? 'never ran') : 'not created yet'}</td></tr>`,
  )}</tbody>
</table>`;
}

export function card(c: Card, now: number): Html {
  const r = c.running;
  return html`<article class="card" id="pipeline-${c.name}" aria-labelledby="title-${c.name}">
<h2 id="title-${c.name}"><a href="/pipelines/${encodeURIComponent(c.name)}">${c.name}</a></h2>
<dl class="facts">
<dt>Live</dt><dd class="live-digest"><code>${short(c.live.digest)}</code>${c.live.tag ? html` <span class="tag">${c.live.tag}</span>` : ''}</dd>
<dt>Last outcome</dt><dd class="last">${c.last ? html`${outcomeBadge(c.last.outcome)} <a href="/releases/${encodeURIComponent(c.last.execution)}">${c.last.kind} ${c.last.execution.slice(0, 8)}</a>${c.last.reason ? html` <span class="muted">${c.last.reason}</span>` : ''}` : 'none yet'}</dd>
${c.kind === 'job' ? html`<dt>Live job</dt><dd class="live-job">${c.live.service}</dd>` : ''}
${c.lastFailed ? html`<dt>Last failed</dt><dd class="last-failed"><code>${short(c.lastFailed)}</code></dd>` : ''}
${c.freezes.length ? html`<dt>Freeze</dt><dd class="freeze">${c.freezes.map((f) => html`<span class="badge frozen">${f.name}</span> until ${f.until} `)}</dd>` : ''}
</dl>
${c.bars.map(trafficBar)}
${c.jobs.length ? jobTable(c.jobs) : ''}
${
  r
    ? html`<section class="running" aria-label="Running release">
<p><a href="/releases/${encodeURIComponent(r.execution)}">Release ${r.execution.slice(0, 8)}</a> of <code>${short(r.digest)}</code>${r.tag ? html` <span class="tag">${r.tag}</span>` : ''}: stage <strong class="stage">${r.stage}</strong>${r.bakeEndsAt !== null ? html` · bake ends in ${countdown(r.bakeEndsAt, now)}` : ''}</p>
${r.steps ? steps(r.steps) : ''}
${r.gate ? html`<p class="gate">Awaits approval ${r.gate.before === 'live' ? 'before live traffic moves' : `before ${r.gate.before}%`} until ${r.gate.deadline}; approvers: ${r.gate.approvers.join(', ') || 'none'}. <a href="/releases/${encodeURIComponent(r.execution)}">Decide</a></p>` : ''}
${r.held ? html`<p class="held">Held by the freeze ${r.held.freeze} until ${r.held.until}</p>` : ''}
</section>`
    : html`<p class="idle muted">No release running.</p>`
}
<p class="links"><a href="/pipelines/${encodeURIComponent(c.name)}">History</a>${c.kind === 'service' ? html` · <a href="/logs?service=${encodeURIComponent(c.live.service)}">Live logs</a>` : ''}</p>
</article>`;
}

export function overview(cards: Card[], now: number): Html {
  return html`<h1>Pipelines</h1>
${cards.length ? html`<div class="cards">${cards.map((c) => card(c, now))}</div>` : html`<p>No pipelines: no runway.yaml, and no service carries runway's release state yet.</p>`}`;
}

/** A button that opens the confirmation dialog, or a disabled one with the reason beside it. */
export function actionButton(
  name: string,
  label: string,
  a: Action,
  data: { pipeline: string; execution?: string; to?: string | null; confirm: string },
  id: string,
): Html {
  const why = `why-${id}`;
  return html`<span class="action-wrap"><button type="button" class="action ${name}" data-action="${name}" data-pipeline="${data.pipeline}" data-execution="${data.execution ?? ''}" data-to="${data.to ?? ''}" data-confirm="${data.confirm}" title="${a.why}" aria-describedby="${why}"${a.enabled ? '' : html` disabled`}>${label}</button> <span class="why" id="${why}">${a.enabled ? '' : a.why}</span></span>`;
}

function stageRows(m: ReleaseModel, scale: number): Html {
  return html`<table class="timeline"><caption>Stages</caption>
<thead><tr><th scope="col">Stage</th><th scope="col">Outcome</th><th scope="col">Wall time</th><th scope="col">Detail</th></tr></thead>
<tbody>${m.stages.map(
    (x) =>
      html`<tr class="stage-row ${x.outcome.toLowerCase()}"><th scope="row">${x.name}</th><td>${x.outcome}</td><td>${seconds(x.wallMs)}${scale > 1 && x.workflowMs !== null ? html` <span class="muted">(${seconds(x.workflowMs)} workflow)</span>` : ''}</td><td class="detail">${x.detail ?? ''}${x.by ? html` <span class="muted">by ${x.by}${x.reason ? `: ${x.reason}` : ''}</span>` : ''}</td></tr>`,
  )}${m.current ? html`<tr class="stage-row running"><th scope="row">${m.current}</th><td>RUNNING</td><td>-</td><td></td></tr>` : ''}</tbody></table>`;
}

function logsHref(service: string, revision: string) {
  return `/logs?service=${encodeURIComponent(service)}&revision=${encodeURIComponent(revision)}`;
}

export function release(m: ReleaseModel, now: number, scale: number): Html {
  const pipe = m.pipeline;
  const confirm = (verb: string) =>
    `${verb} ${m.kind} ${m.id.slice(0, 8)} of ${pipe}${m.digest ? ` (${short(m.digest)})` : ''}?`;
  return html`<p class="crumbs"><a href="/">Pipelines</a> › <a href="/pipelines/${encodeURIComponent(pipe)}">${pipe}</a></p>
<h1>${m.kind === 'rollback' ? 'Rollback' : 'Release'} <code>${m.id}</code></h1>
<dl class="facts summary">
<dt>Outcome</dt><dd class="outcome">${outcomeBadge(m.outcome)}</dd>
<dt>Digest</dt><dd><code>${short(m.digest)}</code>${m.tag ? html` <span class="tag">${m.tag}</span>` : ''}</dd>
<dt>By</dt><dd>${m.by ?? '-'}</dd>
<dt>Reason</dt><dd class="reason">${m.reason ?? '-'}</dd>
<dt>Started</dt><dd>${m.startTime ?? '-'}</dd>
<dt>Wall time</dt><dd>${seconds(m.wallMs === null ? null : Math.round(m.wallMs / 1000) * 1000)}</dd>
<dt>Billed steps</dt><dd class="billed">${m.billedSteps ?? (m.state === 'ACTIVE' ? 'counted when it ends' : '-')}</dd>
</dl>
${m.gate ? html`<p class="gate">Waiting for approval ${m.gate.before === 'live' ? 'before live traffic moves' : `before ${m.gate.before}%`} until ${m.gate.deadline}; approvers: ${m.gate.approvers.join(', ') || 'none'}.</p>` : ''}
<section aria-labelledby="actions-title" class="actions"><h2 id="actions-title">Actions</h2>
${actionButton('approve', 'Approve', m.actions.approve, { pipeline: pipe, execution: m.id, confirm: confirm('Approve') }, 'approve')}
${actionButton('reject', 'Reject', m.actions.reject, { pipeline: pipe, execution: m.id, confirm: confirm('Reject') }, 'reject')}
${actionButton('abort', 'Abort', m.actions.abort, { pipeline: pipe, execution: m.id, confirm: confirm('Abort') }, 'abort')}
${actionButton('rollback', 'Roll back live', m.actions.rollback, { pipeline: pipe, to: m.rollbackTo, confirm: `Roll ${pipe}'s live service back to ${short(m.rollbackTo)}?` }, 'rollback')}
</section>
${stageRows(m, scale)}
${
  m.steps
    ? html`<section aria-labelledby="canary-title"><h2 id="canary-title">Canary</h2>
<p>Bake ${m.bakeSeconds ?? '-'} s per step${m.thresholds ? html`; thresholds: 5xx ratio at most ${m.thresholds.maxErrorRatio ?? '-'}, at least ${m.thresholds.minRequests ?? '-'} requests` : '; no Cloud Monitoring thresholds'}.</p>
${steps(m.steps)}</section>`
    : ''
}
${
  m.decisions.length
    ? html`<table class="decisions"><caption>Decisions</caption><thead><tr><th scope="col">Stage</th><th scope="col">Who</th><th scope="col">When</th><th scope="col">Why</th></tr></thead>
<tbody>${m.decisions.map((d) => html`<tr><th scope="row">${d.name}</th><td>${d.by}</td><td>${d.end ?? '-'}</td><td>${d.reason ?? ''}</td></tr>`)}</tbody></table>`
    : ''
}
<section aria-labelledby="revisions-title"><h2 id="revisions-title">Revisions and logs</h2>
<ul class="revisions">${m.revisions.map(
    (r) =>
      html`<li>${r.role}: <code>${r.revision}</code> · <a href="${safeHref(logsHref(r.service, r.revision))}">logs</a></li>`,
  )}${m.failedJob ? html`<li class="failed-job">failed acceptance run <code>${m.failedJob}</code> · <a class="failing-logs" href="/logs?execution=${encodeURIComponent(m.failedJob)}">failing logs</a></li>` : ''}<li><a href="/logs?workflows=1">workflow logs</a></li></ul>
</section>
${m.error ? html`<p class="error">Error: ${m.error}</p>` : ''}
<p class="muted updated">as of <time>${new Date(now).toISOString()}</time></p>`;
}

export const OUTCOMES = [
  'PROMOTED',
  'ROLLED_BACK',
  'REJECTED',
  'DUPLICATE',
  'SUPERSEDED',
  'RUNNING',
  'FAILED',
  'REFUSED',
] as const;

export function history(
  pipeline: string,
  rows: HistoryRow[],
  outcome: string | null,
  live: string | null,
  rollback: Action,
): Html {
  return html`<p class="crumbs"><a href="/">Pipelines</a> › ${pipeline}</p>
<h1>History of ${pipeline}</h1>
<form method="get" class="filter" action="/pipelines/${encodeURIComponent(pipeline)}">
<label for="outcome">Outcome</label>
<select id="outcome" name="outcome"><option value="">all</option>${OUTCOMES.map((o) => html`<option value="${o}"${o === outcome ? html` selected` : ''}>${o}</option>`)}</select>
<button type="submit">Filter</button>
</form>
<p>Live: <code class="live-digest">${short(live)}</code> ${actionButton('rollback', 'Roll back to previous', rollback, { pipeline, confirm: `Roll ${pipeline}'s live service back to its previous digest?` }, 'rollback-previous')}</p>
${
  rows.length
    ? html`<table class="history"><caption>Releases and rollbacks, newest first${outcome ? ` (${outcome})` : ''}</caption>
<thead><tr><th scope="col">When</th><th scope="col">Kind</th><th scope="col">Outcome</th><th scope="col">Digest</th><th scope="col">By</th><th scope="col">Reason</th><th scope="col">Action</th></tr></thead>
<tbody>${rows.map((r, i) => historyRowHtml(pipeline, r, i, live))}</tbody></table>`
    : html`<p>No releases or rollbacks${outcome ? ` with outcome ${outcome}` : ''}.</p>`
}`;
}

function historyRowHtml(pipeline: string, r: HistoryRow, i: number, live: string | null): Html {
  const canGo =
    r.digest !== null && r.digest !== live && (r.outcome === 'PROMOTED' || r.kind === 'rollback');
  const why = !r.digest
    ? 'no digest recorded'
    : r.digest === live
      ? 'this digest is live'
      : canGo
        ? `live back to ${short(r.digest)}`
        : `a ${r.outcome} release never served live`;
  return html`<tr data-execution="${r.execution}"><td>${r.at ?? '-'}</td><td>${r.kind}</td><td>${outcomeBadge(r.outcome)}</td><td><a href="/releases/${encodeURIComponent(r.execution)}"><code>${short(r.digest)}</code></a></td><td>${r.by ?? '-'}</td><td>${r.reason ?? ''}</td><td>${actionButton('rollback', 'Roll back to this', { enabled: canGo, why }, { pipeline, to: r.digest, confirm: `Roll ${pipeline}'s live service back to ${short(r.digest)}?` }, `rollback-${i}`)}</td></tr>`;
}

export function logs(what: string, lines: string[], note: string | null): Html {
  return html`<p class="crumbs"><a href="/">Pipelines</a> › logs</p>
<h1>Logs of ${what}</h1>
${note ? html`<p class="muted">${note}</p>` : ''}
<p><label><input type="checkbox" id="follow" checked> Follow new lines</label></p>
<pre id="log" class="log" data-log tabindex="0" aria-label="Log lines of ${what}">${lines.join('\n')}${lines.length ? '\n' : ''}</pre>`;
}

export function notFound(what: string): Html {
  return html`<h1>Not found</h1><p>${what}</p><p><a href="/">Back to the pipelines</a></p>`;
}
