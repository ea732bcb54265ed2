// Behaviour every console page shares; pages work without it.

// Type-specific fields: only the fieldset of the chosen script type is shown (and submitted).
function showTypeFields(select) {
  for (const fieldset of document.querySelectorAll('fieldset[data-for-type]')) {
    const on = fieldset.dataset.forType.split(' ').includes(select.value)
    fieldset.hidden = !on
    fieldset.disabled = !on
  }
}
for (const select of document.querySelectorAll('select[data-type-select]')) {
  showTypeFields(select)
  select.addEventListener('change', () => showTypeFields(select))
}

// Confirmation for destructive buttons (rollback, delete, revoke): the form carries the question.
document.addEventListener('submit', (event) => {
  const form = event.target
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault()
})

// The live view: finished runs from the live tail (a WebSocket on this origin, signed in by the
// session cookie), newest at the top; the table keeps the latest 200. Reconnects after a drop.
const live = document.querySelector('table[data-tail]')
if (live) {
  const labels = JSON.parse(live.dataset.labels)
  const trigger = live.dataset.trigger
  const body = live.tBodies[0]
  const state = document.getElementById('live-state')
  const lang = document.documentElement.lang
  const when = new Intl.DateTimeFormat(lang, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: 'UTC', timeZoneName: 'short' })
  const number = (value, unit, digits) => new Intl.NumberFormat(lang, { style: 'unit', unit, maximumFractionDigits: digits }).format(value)
  const duration = (ms) => (typeof ms !== 'number' ? '—' : ms < 1000 ? number(ms, 'millisecond', 1) : ms < 60000 ? number(ms / 1000, 'second', 2) : number(ms / 60000, 'minute', 1))
  const cell = (row, content) => {
    const td = row.insertCell()
    if (content instanceof Node) td.append(content)
    else td.textContent = content
    return td
  }
  const link = (href, text) => {
    const a = document.createElement('a')
    a.href = href
    a.textContent = text
    return a
  }
  const show = (run) => {
    if (trigger && run.trigger !== trigger) return
    const row = body.insertRow(0)
    row.dataset.id = run.id
    // Successful HTTP runs are sampled into the records: only a failure's or a non-HTTP run's record is sure to exist.
    const recorded = run.outcome === 'error' || run.trigger !== 'http'
    const at = when.format(new Date(run.at))
    cell(row, recorded && run.script !== '(ad-hoc)' ? link(`/executions/${run.id}`, at) : at)
    cell(row, run.script && run.script !== '(ad-hoc)' ? link(`/scripts/${run.scriptId}`, run.script) : (run.script ?? run.scriptId.slice(0, 8))).append(` v${run.version}`)
    cell(row, labels.trigger[run.trigger] ?? run.trigger)
    const badge = document.createElement('span')
    badge.className = `badge s-${run.outcome === 'ok' ? 'completed' : 'failed'}`
    badge.textContent = labels.status[run.outcome] ?? run.outcome
    cell(row, badge)
    cell(row, duration(run.durationMs))
    cell(row, duration(run.cpuMs))
    const code = document.createElement('code')
    code.textContent = run.code ?? ''
    cell(row, code)
    while (body.rows.length > 200) body.deleteRow(-1)
  }
  let wait = 1000
  const connect = () => {
    const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${live.dataset.tail}`)
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(event.data)
      if (message.type === 'ready') {
        wait = 1000
        state.textContent = labels.ready
        live.dataset.state = 'ready'
      } else if (message.type === 'run') show(message)
      else if (message.type === 'dropped') state.textContent = labels.dropped.replace('{count}', String(message.dropped))
    })
    socket.addEventListener('close', () => {
      live.dataset.state = 'closed'
      state.textContent = labels.closed
      setTimeout(connect, wait)
      wait = Math.min(wait * 2, 30000)
    })
  }
  connect()
}
