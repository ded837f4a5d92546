// The console's one script: applies the server's live updates (server-sent events) to the page,
// ticks bake countdowns, and sends actions after a confirmation with a reason. The pages work
// without it, only without live updates and actions.

const live = document.querySelector<HTMLElement>('main#live');
const status = document.getElementById('status');
const dialog = document.getElementById('confirm') as HTMLDialogElement | null;
const form = document.getElementById('confirm-form') as HTMLFormElement | null;

function say(text: string, failed = false): void {
  if (!status) return;
  status.textContent = text;
  status.classList.toggle('failed', failed);
}

function field(name: string): HTMLInputElement | HTMLTextAreaElement | null {
  return form?.elements.namedItem(name) as HTMLInputElement | HTMLTextAreaElement | null;
}

function tick(): void {
  for (const t of document.querySelectorAll<HTMLTimeElement>('time[data-until]')) {
    const left = Math.max(0, Math.ceil((Number(t.dataset.until) - Date.now()) / 1000));
    t.textContent = `${left} s`;
  }
}

function follow(): void {
  const log = document.getElementById('log');
  const on = (document.getElementById('follow') as HTMLInputElement | null)?.checked ?? true;
  if (log && on) log.scrollTop = log.scrollHeight;
}

/** Replaces the live fragment, keeping focus on the element that had it (by id) when it is still there. */
function replace(markup: string): void {
  if (!live) return;
  const focused = document.activeElement?.id;
  live.innerHTML = markup;
  if (focused) document.getElementById(focused)?.focus();
  tick();
}

function connect(): void {
  const url = live?.dataset.events;
  if (!url) return;
  const events = new EventSource(url);
  events.addEventListener('live', (e) => replace((e as MessageEvent<string>).data));
  events.addEventListener('reset', (e) => {
    const log = document.getElementById('log');
    if (log) log.textContent = (e as MessageEvent<string>).data;
    follow();
  });
  events.addEventListener('lines', (e) => {
    const log = document.getElementById('log');
    if (log) log.append(`${(e as MessageEvent<string>).data}\n`);
    follow();
  });
  events.addEventListener('open', () => document.body.classList.remove('offline'));
  events.addEventListener('error', () => document.body.classList.add('offline'));
}

document.addEventListener('click', (e) => {
  const button = (e.target as Element).closest<HTMLButtonElement>('button.action[data-action]');
  if (!button || button.disabled || !dialog || !form) return;
  const d = button.dataset;
  for (const name of ['action', 'pipeline', 'execution', 'to'] as const) {
    const input = field(name);
    if (input) input.value = d[name] ?? '';
  }
  const text = document.getElementById('confirm-text');
  if (text) text.textContent = d.confirm ?? '';
  const title = document.getElementById('confirm-title');
  if (title) title.textContent = button.textContent ?? 'Confirm';
  dialog.showModal();
  (field('reason') as HTMLTextAreaElement | null)?.focus();
});

document.getElementById('confirm-cancel')?.addEventListener('click', () => dialog?.close());

form?.addEventListener('submit', async (e) => {
  e.preventDefault();
  const submit = form.querySelector<HTMLButtonElement>('button[type=submit]');
  if (submit) submit.disabled = true;
  const body = new URLSearchParams();
  for (const [k, v] of new FormData(form)) body.append(k, String(v));
  say('Working…');
  try {
    const res = await fetch('/actions', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        'x-runway-token': field('token')?.value ?? '',
      },
      body,
      credentials: 'same-origin',
    });
    const answer = (await res.json()) as { message?: string; error?: string };
    say(answer.message ?? answer.error ?? `${res.status}`, !res.ok);
  } catch (err) {
    say(`The console did not answer: ${(err as Error).message}`, true);
  } finally {
    if (submit) submit.disabled = false;
    const reason = field('reason');
    if (reason) reason.value = '';
    dialog?.close();
  }
});

setInterval(tick, 1000);
follow();
connect();
