// Start the NHS.UK frontend components (a file, not an inline script: the Content-Security-Policy allows none).
import { initAll } from '/assets/nhsuk-frontend.min.js'
initAll()
