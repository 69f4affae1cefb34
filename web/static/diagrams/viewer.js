// Draw a deployed diagram with bpmn-js and, on the instance page, mark each element's state.
// The page gives the URLs in data-* attributes of #diagram, because the CSP forbids inline scripts.
(function () {
  'use strict';

  var STATES = [
    { key: 'error', label: 'Failed' },
    { key: 'active', label: 'Active' },
    { key: 'waiting', label: 'Waiting' },
    { key: 'completed', label: 'Done' }
  ];
  var STATE_NAMES = { completed: 'Completed', active: 'Active', waiting: 'Waiting', error: 'Failed' };

  function fetchChecked(url, expectedType) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: expectedType } }).then(function (response) {
      var type = response.headers.get('Content-Type') || '';
      if (!response.ok) {
        throw new Error('The server returned ' + response.status + ' for ' + url + '. Reload the page to try again.');
      }
      // An ended session redirects to the login page, which is HTML rather than the data requested.
      if (type.indexOf(expectedType) === -1) {
        throw new Error('Your session has ended. Reload the page and log in again.');
      }
      return expectedType === 'application/json' ? response.json() : response.text();
    });
  }

  function setStatus(status, message, isError) {
    status.textContent = message;
    status.classList.toggle('diagram-status-error', Boolean(isError));
  }

  function badge(stateKey, label) {
    var element = document.createElement('span');
    element.className = 'state-badge state-' + stateKey;
    element.textContent = label;
    return element;
  }

  // Add a marker and a word badge to each element. Return rows for the text table, worst state first.
  function markStates(viewer, elementsByState) {
    var registry = viewer.get('elementRegistry');
    var canvas = viewer.get('canvas');
    var overlays = viewer.get('overlays');
    var badged = {};
    var rows = [];

    STATES.forEach(function (state) {
      (elementsByState[state.key] || []).forEach(function (id) {
        var element = registry.get(id);
        var name = element && element.businessObject && element.businessObject.name;
        rows.push({ state: STATE_NAMES[state.key], name: name || '', id: id, drawn: Boolean(element) });
        if (!element) {
          return;
        }
        canvas.addMarker(id, 'state-' + state.key);
        // An element that ran before and is active again (a loop) gets one badge, for its worst state.
        if (!badged[id]) {
          badged[id] = true;
          overlays.add(id, 'careplace-state', { position: { top: -14, right: 14 }, html: badge(state.key, state.label) });
        }
      });
    });
    return rows;
  }

  function fillTable(table, rows) {
    var body = table.tBodies[0];
    body.textContent = '';
    if (!rows.length) {
      var emptyRow = body.insertRow();
      var cell = emptyRow.insertCell();
      cell.colSpan = 3;
      cell.textContent = 'No element has run yet.';
      return;
    }
    rows.forEach(function (row) {
      var tableRow = body.insertRow();
      tableRow.insertCell().textContent = row.state;
      tableRow.insertCell().textContent = (row.name || '–') + (row.drawn ? '' : ' (not drawn on this diagram)');
      tableRow.insertCell().textContent = row.id;
    });
  }

  function show(container) {
    var status = document.getElementById(container.dataset.statusId);
    var viewer = new window.CareplaceBpmn.NavigatedViewer({ container: container });

    return fetchChecked(container.dataset.xmlUrl, 'application/xml')
      .then(function (xml) {
        return viewer.importXML(xml);
      })
      .then(function () {
        viewer.get('canvas').zoom('fit-viewport', 'auto');
        if (!container.dataset.elementsUrl) {
          return null;
        }
        return fetchChecked(container.dataset.elementsUrl, 'application/json');
      })
      .then(function (elementsByState) {
        if (elementsByState) {
          var rows = markStates(viewer, elementsByState);
          fillTable(document.getElementById(container.dataset.tableId), rows);
        }
        setStatus(status, 'Diagram loaded.', false);
      })
      .catch(function (error) {
        var message = error && error.message ? error.message : String(error);
        if (/no diagram to display/i.test(message)) {
          message = 'This file has no diagram layout (BPMN DI), so it cannot be drawn. Open it in the Camunda Modeler or the editor here and save it to add one.';
        }
        setStatus(status, 'The diagram could not be shown. ' + message, true);
      });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var container = document.getElementById('diagram');
    if (container) {
      show(container);
    }
  });
}());
