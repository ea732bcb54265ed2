// The script editor: CodeMirror 6 over the form's <textarea name="source">. The textarea stays
// the form field (kept in step), so the page works without this script too.
/* global ISOGATE_COMPLETIONS */
import { basicSetup } from 'codemirror'
import { EditorView } from '@codemirror/view'
import { EditorState } from '@codemirror/state'
import { javascript, javascriptLanguage } from '@codemirror/lang-javascript'
import { linter, lintGutter, setDiagnostics } from '@codemirror/lint'

const COMPLETIONS = ISOGATE_COMPLETIONS

/** Completions after `ctx.`, `ctx.db.`, `env.` (the script's own names), `controller.`, `event.`. */
function isogateCompletions(envNames) {
  return (context) => {
    const match = context.matchBefore(/[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*\.[\w$]*$/)
    if (match === null) return null
    const dot = match.text.lastIndexOf('.')
    const path = match.text.slice(0, dot)
    const from = match.from + dot + 1
    if (path === 'env') return { from, options: envNames.map((name) => ({ label: name, type: 'variable', detail: 'string' })), validFor: /^[\w$]*$/ }
    const options = COMPLETIONS[path]
    if (!options) return null
    return { from, options: options.map((o) => ({ label: o.label, type: o.type, detail: o.detail, info: o.info || undefined })), validFor: /^[\w$]*$/ }
  }
}

/** Line and column (1-based) to a document position, clamped into the document. */
function positionOf(doc, line, column) {
  const safeLine = Math.min(Math.max(1, line), doc.lines)
  const at = doc.line(safeLine)
  return Math.min(at.from + Math.max(0, column - 1), at.to)
}

function diagnosticOf(doc, error) {
  const from = positionOf(doc, error.line, error.column)
  const to = Math.min(from + 1, doc.line(Math.min(Math.max(1, error.line), doc.lines)).to)
  return { from, to: Math.max(to, from), severity: 'error', message: error.message, source: error.code }
}

/** Asks the server to compile the source (the same check a save makes). */
function serverCheck(url, csrf, status) {
  return async (view) => {
    const source = view.state.doc.toString()
    if (source.trim() === '') return []
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ source }) })
    if (!response.ok) return []
    const result = await response.json()
    if (status) status.textContent = result.ok ? status.dataset.ok : `${result.code}: ${result.message} (${result.line}:${result.column})`
    if (result.ok || !result.line) return []
    return [diagnosticOf(view.state.doc, result)]
  }
}

for (const textarea of document.querySelectorAll('textarea[data-editor]')) {
  const envNames = (textarea.dataset.env ?? '').split(',').filter(Boolean)
  const status = document.getElementById(textarea.dataset.status ?? '')
  const extensions = [
    basicSetup,
    javascript(),
    javascriptLanguage.data.of({ autocomplete: isogateCompletions(envNames) }),
    lintGutter(),
    EditorView.contentAttributes.of({ 'aria-label': textarea.dataset.label ?? 'Source', 'aria-describedby': textarea.dataset.status ?? '' }),
    EditorView.updateListener.of((update) => {
      if (update.docChanged) textarea.value = update.state.doc.toString()
    }),
  ]
  if (textarea.readOnly) extensions.push(EditorState.readOnly.of(true), EditorView.editable.of(false))
  else if (textarea.dataset.checkUrl) extensions.push(linter(serverCheck(textarea.dataset.checkUrl, textarea.dataset.csrf ?? '', status), { delay: 400 }))
  const view = new EditorView({ doc: textarea.value, extensions })
  textarea.hidden = true
  textarea.insertAdjacentElement('afterend', view.dom)
  textarea.editorView = view
  // An error the server answered on save: marked at once, before the first check runs.
  if (textarea.dataset.errorLine) {
    const error = { line: Number(textarea.dataset.errorLine), column: Number(textarea.dataset.errorColumn || 1), message: textarea.dataset.errorMessage ?? '', code: textarea.dataset.errorCode ?? '' }
    view.dispatch(setDiagnostics(view.state, [diagnosticOf(view.state.doc, error)]))
  }
}
