// Entry of web/static/vendor/bpmn-viewer.js: exposes the read-only viewer to the page scripts.
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';

window.CareplaceBpmn = Object.assign(window.CareplaceBpmn || {}, { NavigatedViewer });
