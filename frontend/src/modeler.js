// Entry of web/static/vendor/bpmn-modeler.js: the modeller with Camunda 7 properties, for the page scripts.
import Modeler from 'bpmn-js/lib/Modeler';
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule
} from 'bpmn-js-properties-panel';
import CamundaPlatformBehaviorsModule from 'camunda-bpmn-js-behaviors/lib/camunda-platform';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';

// Build a modeller that reads and writes camunda:* attributes and edits them in the properties panel.
function createModeler(container, propertiesParent) {
  return new Modeler({
    container,
    propertiesPanel: { parent: propertiesParent },
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      CamundaPlatformPropertiesProviderModule,
      CamundaPlatformBehaviorsModule
    ],
    moddleExtensions: { camunda: camundaModdle }
  });
}

window.CareplaceBpmn = Object.assign(window.CareplaceBpmn || {}, { createModeler });
