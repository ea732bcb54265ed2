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
