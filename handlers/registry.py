"""The handler registry: every handler module registers its topics, and the topic reference is rendered from it."""

import sys

from engine.handler_api import HandlerRegistry, TopicSpec
from handlers import account_topics, care_delivery_topics, care_topics, charity_commission, companies_house, cqc, email, note_topics, notifications, payment_topics, paypal
from handlers.config import HandlerSettings

# Each module has a register(registry, settings) function that adds its topics.
HANDLER_MODULES = (cqc, companies_house, charity_commission, paypal, email, notifications, care_topics, account_topics, note_topics, care_delivery_topics, payment_topics)


def build_registry(settings: HandlerSettings) -> HandlerRegistry:
    """Create a registry holding every topic of the modules in HANDLER_MODULES.

    Building opens no connection, so the diagram linter can build a registry
    with unset settings. A handler whose service is unset fails when it runs.
    """
    registry = HandlerRegistry()
    for module in HANDLER_MODULES:
        module.register(registry, settings)

    return registry


def render_topics_markdown(registry: HandlerRegistry) -> str:
    """Render the analysts' reference of every topic's inputs, outputs and business errors as Markdown."""
    lines = [
        "# Service-task topics",
        "",
        "Generated from the handler registry by `python -m handlers.registry > docs/topics.md`;",
        "edit the handler modules, not this file.",
        "",
        "A service task names its topic in `camunda:topic`. Map the inputs with",
        "`camunda:inputParameter`; without output parameters every output is written to the task data.",
        "A business error is thrown as a BPMN error whose `errorCode` is the code below: catch it with an",
        "error boundary event, or the task becomes an incident. Time-outs, 429 and 5xx answers and refused",
        "connections are retried with backoff and then become an incident.",
        "",
    ]
    for spec in registry.topics():
        lines.extend(_render_topic(spec))

    return "\n".join(lines).rstrip() + "\n"


def _render_topic(spec: TopicSpec) -> list[str]:
    lines = [f"## `{spec.topic}`", "", spec.description, "", f"Time-out: {spec.timeout:.0f} seconds.", ""]
    for title, entries in (("Inputs", spec.inputs), ("Outputs", spec.outputs), ("Business errors", spec.errors)):
        lines.extend([f"**{title}**", ""])
        if not entries:
            lines.extend(["None.", ""])
            continue

        lines.extend(["| name | meaning |", "|---|---|"])
        lines.extend(f"| `{name}` | {_cell(text)} |" for name, text in entries.items())
        lines.append("")

    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    sys.stdout.write(render_topics_markdown(build_registry(HandlerSettings())))
