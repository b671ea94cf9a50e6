// The policy workbench: the criteria as an editable structure, kept in step with the YAML view,
// checked and analysed as they change. A file, not an inline script (the pages' CSP allows none);
// without script the YAML view and the form's buttons do the same work.
(function () {
  'use strict'
  const form = document.getElementById('workbench')
  if (!form) return
  const yaml = document.getElementById('yaml')
  const structure = document.getElementById('structure')
  const problemsList = document.getElementById('check-problems')
  const analysis = document.getElementById('analysis')
  const dictionary = JSON.parse(document.getElementById('wb-dictionary').textContent)
  const policies = JSON.parse(document.getElementById('wb-policies').textContent)
  const attrNames = Object.keys(dictionary).sort()
  const OPS = ['=', '!=', '<', '<=', '>', '>=', 'in', 'between']
  const KINDS = [['compare', 'a comparison'], ['all', 'all of'], ['any', 'any of'], ['not', 'not'],
    ['if', 'if … then'], ['policy', 'eligible under another policy']]
  const LOGIC = ['all', 'any', 'not', 'if', 'then', 'attr', 'op', 'value', 'min', 'max', 'inclusive', 'policy', 'version']
  let criteria = null
  let seq = 0
  let uid = 0
  let timer = null

  function el (tag, props, ...kids) {
    const e = document.createElement(tag)
    for (const [k, v] of Object.entries(props || {})) {
      if (k.startsWith('data-') || k.startsWith('aria-')) e.setAttribute(k, v)
      else e[k] = v
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid)
    return e
  }

  function row (labelText, input) {
    input.id = 'wb-' + (++uid)
    return el('div', { className: 'wb-row' }, el('label', { htmlFor: input.id }, labelText), input)
  }

  function select (options, value, onchange) {
    const s = el('select', { className: 'nhsuk-select' })
    for (const [v, text] of options) s.append(el('option', { value: v, textContent: text, selected: v === value }))
    s.addEventListener('change', () => onchange(s.value))
    return s
  }

  function button (text, onclick, props) {
    const b = el('button', { type: 'button', className: 'wb-button', textContent: text, ...(props || {}) })
    b.addEventListener('click', onclick)
    return b
  }

  function kindOf (n) {
    for (const k of ['all', 'any', 'not', 'if', 'policy']) if (k in n) return k
    return 'compare'
  }

  function typeOf (attr) { return (dictionary[attr] || {}).type || 'string' }

  function defaultValue (attr) {
    const a = dictionary[attr] || {}
    if (a.type === 'boolean') return true
    if (a.type === 'enum') return (a.values || [''])[0]
    if (a.type === 'integer' || a.type === 'number') return 0
    return ''
  }

  function defaultCompare () {
    const attr = attrNames[0]
    return { attr, op: '=', value: defaultValue(attr) }
  }

  function setKind (n, kind) {
    for (const k of LOGIC) delete n[k]
    if (kind === 'compare') Object.assign(n, defaultCompare())
    else if (kind === 'all' || kind === 'any') n[kind] = [defaultCompare()]
    else if (kind === 'not') n.not = defaultCompare()
    else if (kind === 'if') { n.if = defaultCompare(); n.then = defaultCompare() }
    else if (kind === 'policy') n.policy = policies[0]
  }

  function parseScalar (text, attr) {
    const t = typeOf(attr)
    if (t === 'boolean') return text === 'true'
    if ((t === 'integer' || t === 'number') && text.trim() !== '' && !isNaN(Number(text))) return Number(text)
    return text
  }

  function valueInput (n, key) {
    const attr = n.attr
    const a = dictionary[attr] || {}
    const current = n[key]
    if (n.op !== 'in' && key === 'value' && a.type === 'boolean') {
      return select([['true', 'true'], ['false', 'false']], String(current), v => { n[key] = v === 'true'; changed() })
    }
    if (n.op !== 'in' && key === 'value' && a.type === 'enum') {
      const opts = (a.values || []).map(v => [v, v])
      if (!(a.values || []).includes(current)) opts.push([String(current), String(current)])
      return select(opts, String(current), v => { n[key] = v; changed() })
    }
    const shown = Array.isArray(current) ? current.join(', ') : (current === undefined || current === null ? '' : String(current))
    const input = el('input', { type: 'text', className: 'nhsuk-input', value: shown, spellcheck: false })
    input.addEventListener('input', () => {
      n[key] = n.op === 'in' && key === 'value'
        ? input.value.split(',').map(s => s.trim()).filter(s => s !== '').map(s => parseScalar(s, attr))
        : parseScalar(input.value, attr)
      changed()
    })
    return input
  }

  function compareEditor (n, box) {
    const attrs = attrNames.includes(n.attr) ? attrNames : [n.attr, ...attrNames]
    box.append(row('Attribute', select(attrs.map(a => [a, a]), n.attr, v => {
      n.attr = v
      if (n.op !== 'between' && n.op !== 'in') n.value = defaultValue(v)
      rerender(); changed()
    })))
    box.append(row('Comparison', select(OPS.map(o => [o, o]), n.op, v => {
      const was = n.op
      n.op = v
      if (v === 'between') { delete n.value; n.min = n.min ?? 0; n.max = n.max ?? 0 } else {
        delete n.min; delete n.max; delete n.inclusive
        if (v === 'in') n.value = Array.isArray(n.value) ? n.value : [n.value ?? defaultValue(n.attr)]
        else if (was === 'in' || was === 'between' || n.value === undefined) {
          n.value = Array.isArray(n.value) ? n.value[0] : defaultValue(n.attr)
        }
      }
      rerender(); changed()
    })))
    if (n.op === 'between') {
      box.append(row('From', valueInput(n, 'min')), row('To', valueInput(n, 'max')))
      box.append(row('Inclusive', select([['both', 'both ends'], ['neither', 'neither end'], ['min', 'the lower end only'],
        ['max', 'the upper end only']], n.inclusive || 'both', v => { n.inclusive = v; changed() })))
    } else {
      box.append(row(n.op === 'in' ? 'Values (comma between)' : 'Threshold', valueInput(n, 'value')))
    }
  }

  function ruleEditor (n, depth) {
    const box = el('div', { className: 'wb-rule', 'data-kind': kindOf(n) })
    if (depth > 0 && n.id) box.append(el('p', { className: 'wb-small', textContent: `Criterion ${n.id}: ${n.text || ''}` }))
    box.append(row('Rule', select(KINDS, kindOf(n), v => { setKind(n, v); rerender(); changed() })))
    const kind = kindOf(n)
    if (kind === 'compare') compareEditor(n, box)
    else if (kind === 'all' || kind === 'any') {
      n[kind].forEach((child, i) => {
        box.append(ruleEditor(child, depth + 1))
        if (n[kind].length > 1) {
          box.append(button('Remove this condition', () => { n[kind].splice(i, 1); rerender(); changed() },
            { className: 'wb-button wb-button--danger' }))
        }
      })
      box.append(button('Add a condition', () => { n[kind].push(defaultCompare()); rerender(); changed() }))
    } else if (kind === 'not') box.append(ruleEditor(n.not, depth + 1))
    else if (kind === 'if') {
      box.append(el('p', { className: 'wb-small', textContent: 'If' }), ruleEditor(n.if, depth + 1),
        el('p', { className: 'wb-small', textContent: 'then' }), ruleEditor(n.then, depth + 1))
    } else if (kind === 'policy') {
      box.append(row('Policy', select(policies.map(p => [p, p]), n.policy, v => { n.policy = v; changed() })))
    }
    return box
  }

  function textInput (n, key, multiline) {
    const input = multiline
      ? el('textarea', { className: 'nhsuk-textarea', value: n[key] || '', rows: 2, 'data-field': key })
      : el('input', { type: 'text', className: 'nhsuk-input', value: n[key] || '', spellcheck: key !== 'id', 'data-field': key })
    input.addEventListener('input', () => {
      if (input.value === '' && key !== 'text') delete n[key]
      else n[key] = input.value
      changed()
    })
    return input
  }

  function logicOf (n) {
    const out = {}
    for (const k of LOGIC) if (k in n) out[k] = JSON.parse(JSON.stringify(n[k]))
    return out
  }

  function readingsBox (n) {
    const box = el('div', { className: 'wb-readings', 'data-readings': n.id },
      el('p', { textContent: `This wording can be read ${n.readings.length} ways; the analysis shows the change under each.` }))
    n.readings.forEach((r, i) => {
      const item = el('div', { className: 'wb-reading-edit', 'data-reading': r.id })
      item.append(row('Reading id', textInput(r, 'id')), row('Meaning', textInput(r, 'meaning', true)))
      if (r.rule) {
        item.append(el('p', { className: 'wb-small', textContent: 'The rule under this reading:' }), ruleEditor(r.rule, 1))
        item.append(button(`Remove reading ${r.id}`, () => {
          n.readings.splice(i, 1)
          if (n.readings.length < 2) delete n.readings
          rerender(); changed()
        }, { className: 'wb-button wb-button--danger', 'data-remove-reading': r.id }))
      } else {
        item.append(el('p', { className: 'wb-small', textContent: 'The rule below encodes this reading (decisions use it).' }))
      }
      box.append(item)
    })
    box.append(button('Add another reading', () => { addReading(n); rerender(); changed() },
      { className: 'wb-button', 'data-add-reading': n.id }))
    box.append(button('Remove the readings (the new wording is not ambiguous)', () => {
      delete n.readings; rerender(); changed()
    }, { className: 'wb-button', 'data-remove-readings': n.id }))
    return box
  }

  function addReading (n) {
    if (!n.readings) n.readings = [{ id: 'as_encoded', meaning: 'The wording as the rule below encodes it.' }]
    let k = n.readings.length + 1
    while (n.readings.some(r => r.id === `reading_${k}`)) k++
    n.readings.push({ id: `reading_${k}`, meaning: 'Another reading of the wording.', rule: logicOf(n) })
  }

  function criterionEditor (n, i) {
    const box = el('fieldset', { className: 'wb-criterion', 'data-id': n.id || '' },
      el('legend', { textContent: `Criterion ${n.id || '(no id)'}` }))
    box.append(row('Id', textInput(n, 'id')), row('Wording', textInput(n, 'text', true)))
    box.append(row('Provenance', select([['seed', 'seed (LSC papers)'], ['public', 'public source'],
      ['comparator', 'comparator (stand-in)']], n.provenance || 'seed', v => { n.provenance = v; changed() })))
    box.append(row('Citation', textInput(n, 'citation')))
    if (n.readings) box.append(readingsBox(n))
    else {
      box.append(button('Declare another reading of this wording', () => { addReading(n); rerender(); changed() },
        { className: 'wb-button', 'data-add-reading': n.id || '' }))
    }
    box.append(ruleEditor(n, 0))
    box.append(button(`Remove criterion ${n.id || ''}`, () => { criteria.splice(i, 1); rerender(); changed() },
      { className: 'wb-button wb-button--danger', 'data-remove': n.id || '' }))
    return box
  }

  function rerender () {
    structure.replaceChildren()
    criteria.forEach((n, i) => structure.append(criterionEditor(n, i)))
    structure.append(button('Add a criterion', () => {
      let k = criteria.length + 1
      while (criteria.some(c => c.id === `new_${k}`)) k++
      criteria.push({ id: `new_${k}`, text: '', provenance: 'seed', citation: '', ...defaultCompare() })
      rerender(); changed()
    }, { id: 'add-criterion' }))
    structure.hidden = false
  }

  function showProblems (problems) {
    problemsList.replaceChildren(...problems.map(p =>
      el('li', { className: 'wb-problem', 'data-code': p.code, textContent: (p.line ? `Line ${p.line}: ` : '') + p.message })))
  }

  async function post (url, body, json) {
    const r = await fetch(url, json
      ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
      : { method: 'POST', body })
    return r.json()
  }

  async function check (body, fromYaml) {
    const mine = ++seq
    analysis.dataset.state = 'busy'
    const res = await post(form.dataset.check, body, true)
    if (mine !== seq) return
    if (!fromYaml) yaml.value = res.yaml
    showProblems(res.problems || [])
    if (res.ok) {
      if (criteria === null) document.getElementById('yaml-view').open = false // the structure is shown instead
      if (fromYaml || criteria === null) { criteria = res.criteria; rerender() }
      await analyse(mine)
    } else {
      analysis.dataset.state = 'invalid' // the analysis shown is of the last valid draft: dimmed (workbench.css)
    }
  }

  async function analyse (mine) {
    mine = mine || ++seq
    analysis.dataset.state = 'busy'
    const res = await post(form.dataset.analyse, new FormData(form), false)
    if (mine !== seq) return
    analysis.innerHTML = res.html // rendered and escaped by the server (templates/workbench/_analysis.html)
    analysis.dataset.state = res.ok ? 'done' : 'invalid'
  }

  function changed () {
    analysis.dataset.state = 'busy'
    clearTimeout(timer)
    timer = setTimeout(() => check({ criteria }, false), 300)
  }

  yaml.addEventListener('input', () => {
    analysis.dataset.state = 'busy'
    clearTimeout(timer)
    timer = setTimeout(() => check({ yaml: yaml.value }, true), 500)
  })
  for (const name of ['cohort', 'n', 'seed', 'cohort_file']) {
    for (const input of form.querySelectorAll(`[name="${name}"]`)) {
      input.addEventListener('change', () => { clearTimeout(timer); timer = setTimeout(() => analyse(), 200) })
    }
  }
  check({ yaml: yaml.value }, true)
})()
