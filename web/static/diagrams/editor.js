// The diagram editor: bpmn-js's modeller with the Camunda 7 properties panel, saving through the app's lint and deploy.
// The page gives the URLs and the CSRF token in data-* attributes of #editor, because the CSP forbids inline scripts.
(function () {
  'use strict';

  // A new diagram: one executable process with a start event, in the Camunda 7 dialect the engine parses.
  function blankDiagram() {
    var suffix = Math.random().toString(36).slice(2, 9);
    return '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" ' +
      'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" ' +
      'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" ' +
      'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" ' +
      'id="Definitions_' + suffix + '" targetNamespace="http://bpmn.io/schema/bpmn">\n' +
      '  <bpmn:process id="Process_' + suffix + '" isExecutable="true">\n' +
      '    <bpmn:startEvent id="StartEvent_1" />\n' +
      '  </bpmn:process>\n' +
      '  <bpmndi:BPMNDiagram id="BPMNDiagram_1">\n' +
      '    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Process_' + suffix + '">\n' +
      '      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1">\n' +
      '        <dc:Bounds x="180" y="160" width="36" height="36" />\n' +
      '      </bpmndi:BPMNShape>\n' +
      '    </bpmndi:BPMNPlane>\n' +
      '  </bpmndi:BPMNDiagram>\n' +
      '</bpmn:definitions>\n';
  }

  function Editor(root) {
    this.root = root;
    this.result = document.getElementById(root.dataset.resultId);
    this.base = document.getElementById(root.dataset.baseId);
    this.checkButton = document.getElementById(root.dataset.checkId);
    this.deployButton = document.getElementById(root.dataset.deployId);
    this.fileName = root.dataset.fileName || null;
    this.modeler = window.CareplaceBpmn.createModeler(
      root.querySelector('.editor-canvas'),
      root.querySelector('.editor-properties')
    );
    this.downloadButton = document.getElementById(root.dataset.downloadId);
    this.unsaved = false;

    var self = this;
    this.modeler.on('commandStack.changed', function () {
      self.unsaved = true;
    });
  }

  Editor.prototype.open = function () {
    var self = this;
    var xmlUrl = this.root.dataset.xmlUrl;
    var loading = xmlUrl ? this.fetchXml(xmlUrl) : Promise.resolve(blankDiagram());

    return loading
      .then(function (xml) {
        return self.modeler.importXML(xml);
      })
      .then(function (imported) {
        self.modeler.get('canvas').zoom('fit-viewport', 'auto');
        self.markSaved();
        self.setButtonsEnabled(true);
        var warnings = imported && imported.warnings ? imported.warnings.length : 0;
        self.showText(warnings ? 'The diagram is open, but bpmn-js ignored ' + warnings + ' parts of the XML it did not understand.' : 'The diagram is open.');
      })
      .catch(function (error) {
        self.showText('The diagram could not be opened. ' + (error && error.message ? error.message : String(error)), true);
      });
  };

  Editor.prototype.fetchXml = function (url) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/xml' } }).then(function (response) {
      var type = response.headers.get('Content-Type') || '';
      if (!response.ok) {
        throw new Error('The server returned ' + response.status + '. Reload the page to try again.');
      }
      if (type.indexOf('application/xml') === -1) {
        throw new Error('Your session has ended. Reload the page and log in again.');
      }
      return response.text();
    });
  };

  Editor.prototype.markSaved = function () {
    this.unsaved = false;
  };

  Editor.prototype.setButtonsEnabled = function (enabled) {
    this.checkButton.disabled = !enabled;
    this.deployButton.disabled = !enabled;
    this.downloadButton.disabled = !enabled;
  };

  // Save the XML as a file on the analyst's computer, so work survives an expired session.
  Editor.prototype.download = function () {
    var self = this;
    return this.modeler.saveXML({ format: true }).then(function (saved) {
      var link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([saved.xml], { type: 'application/xml' }));
      link.download = self.fileName || 'diagram.bpmn';
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    });
  };

  Editor.prototype.showText = function (message, isError) {
    this.result.textContent = '';
    var paragraph = document.createElement('p');
    paragraph.textContent = message;
    if (isError) {
      paragraph.className = 'error-message';
    }
    this.result.appendChild(paragraph);
  };

  // Select the element a lint problem names, which shows it in the diagram and opens its properties.
  Editor.prototype.selectElement = function (elementId) {
    var element = this.modeler.get('elementRegistry').get(elementId);
    if (!element) {
      return false;
    }
    this.modeler.get('selection').select(element);
    if (element.waypoints === undefined && element.type !== 'bpmn:Process') {
      this.modeler.get('canvas').scrollToElement(element);
    }
    return true;
  };

  Editor.prototype.showProblems = function (heading, problems, isError) {
    var self = this;
    this.result.textContent = '';

    var title = document.createElement('p');
    title.textContent = heading;
    title.className = isError ? 'error-message' : '';
    this.result.appendChild(title);

    var list = document.createElement('ul');
    problems.forEach(function (problem) {
      var item = document.createElement('li');
      if (problem.element_id && self.modeler.get('elementRegistry').get(problem.element_id)) {
        var button = document.createElement('button');
        button.type = 'button';
        button.className = 'link-button problem-link';
        button.textContent = problem.text;
        button.addEventListener('click', function () {
          self.selectElement(problem.element_id);
        });
        item.appendChild(button);
      } else {
        item.textContent = problem.text;
      }
      list.appendChild(item);
    });
    this.result.appendChild(list);
  };

  Editor.prototype.showOutcome = function (action, status, body) {
    var problems = body.problems || [];
    var errors = problems.filter(function (problem) { return problem.severity === 'error'; });

    if (status === 422) {
      var heading = action === 'deploy'
        ? 'Nothing was deployed. Fix these ' + errors.length + ' problems and save again:'
        : 'The check found ' + errors.length + ' problems to fix before the diagram can be deployed:';
      this.showProblems(heading, problems, true);
      return;
    }
    if (action === 'lint') {
      if (problems.length) {
        this.showProblems('The check found no errors, only these warnings:', problems, false);
      } else {
        this.showText('The check found no problems.');
      }
      return;
    }

    this.fileName = body.file_name;
    this.markSaved();
    var summary;
    if (body.created && body.created.length) {
      summary = 'Deployed ' + body.created.map(function (created) {
        return created.process_id + ' version ' + created.version;
      }).join(', ') + ' from ' + body.file_name + '.';
      this.base.textContent = 'Last deployed as ' + body.created.map(function (created) {
        return created.process_id + ' version ' + created.version;
      }).join(', ') + ', file ' + body.file_name + '. Saving again deploys a new version.';
    } else {
      summary = 'Nothing new to deploy: ' + body.file_name + ' is already deployed with exactly this content.';
    }
    if (problems.length) {
      this.showProblems(summary + ' Warnings:', problems, false);
    } else {
      this.showText(summary);
    }
  };

  Editor.prototype.save = function (action) {
    var self = this;
    this.setButtonsEnabled(false);
    this.showText(action === 'deploy' ? 'Checking and deploying…' : 'Checking…');

    return this.modeler.saveXML({ format: true })
      .then(function (saved) {
        var payload = { xml: saved.xml, action: action };
        if (self.fileName) {
          payload.file_name = self.fileName;
        }
        return fetch(self.root.dataset.saveUrl, {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': self.root.dataset.csrfToken },
          body: JSON.stringify(payload)
        });
      })
      .then(function (response) {
        var type = response.headers.get('Content-Type') || '';
        if (type.indexOf('application/json') === -1) {
          throw new Error(response.status === 400
            ? 'The page has expired. Download the BPMN file to keep your changes, then reload the page and open the file again.'
            : 'The server returned ' + response.status + '. Reload the page and log in again if your session has ended.');
        }
        return response.json().then(function (body) {
          if (response.status !== 200 && response.status !== 422) {
            throw new Error(body.error || 'The server returned ' + response.status + '.');
          }
          self.showOutcome(action, response.status, body);
        });
      })
      .catch(function (error) {
        self.showText('The diagram was not saved. ' + (error && error.message ? error.message : String(error)), true);
      })
      .then(function () {
        self.setButtonsEnabled(true);
      });
  };

  document.addEventListener('DOMContentLoaded', function () {
    var root = document.getElementById('editor');
    if (!root) {
      return;
    }
    var editor = new Editor(root);
    editor.checkButton.addEventListener('click', function () { editor.save('lint'); });
    editor.deployButton.addEventListener('click', function () { editor.save('deploy'); });
    editor.downloadButton.addEventListener('click', function () { editor.download(); });
    window.addEventListener('beforeunload', function (event) {
      if (editor.unsaved) {
        event.preventDefault();
        event.returnValue = '';
      }
    });
    editor.open();
  });
}());
