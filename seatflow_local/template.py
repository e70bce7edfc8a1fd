"""Reads template.yaml so that the local runtime builds exactly what SAM deploys.

Only what the local runtime needs is resolved: the table's keys and indexes, the functions (code, handler,
environment, reserved concurrency), and the state machine's definition with its DefinitionSubstitutions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that keeps CloudFormation's short tags as {"Fn": value} mappings."""


def _tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if name == "Fn::GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, Any] = field(default_factory=dict)
    # ReservedConcurrentExecutions as written in the template (a number or a Ref), None when unreserved.
    reserved_concurrency: Any = None


@dataclass
class StateMachineSpec:
    logical_id: str
    name: str
    definition_path: Path
    substitutions: dict[str, Any]


class Template:
    """The parts of template.yaml the local runtime builds, with intrinsic functions resolved locally."""

    def __init__(self, document: dict[str, Any] | None = None) -> None:
        self.document = document or load_template()
        self.resources: dict[str, dict[str, Any]] = self.document["Resources"]

    def logical_ids(self, resource_type: str) -> list[str]:
        return [key for key, res in self.resources.items() if res["Type"] == resource_type]

    def one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        ids = self.logical_ids(resource_type)
        if len(ids) != 1:
            raise ValueError(f"template.yaml has {len(ids)} resources of type {resource_type}, expected 1")
        return ids[0], self.resources[ids[0]]["Properties"]

    def functions(self) -> list[FunctionSpec]:
        globals_env = self.document.get("Globals", {}).get("Function", {}).get("Environment", {})
        specs = []
        for logical_id in self.logical_ids("AWS::Serverless::Function"):
            props = self.resources[logical_id]["Properties"]
            env = dict(globals_env.get("Variables", {}))
            env.update(props.get("Environment", {}).get("Variables", {}))
            specs.append(
                FunctionSpec(
                    logical_id=logical_id,
                    code_dir=ROOT / props["CodeUri"],
                    handler=props["Handler"],
                    environment=env,
                    reserved_concurrency=props.get("ReservedConcurrentExecutions"),
                )
            )
        return specs

    def state_machine(self) -> StateMachineSpec:
        logical_id, props = self.one("AWS::Serverless::StateMachine")
        return StateMachineSpec(
            logical_id=logical_id,
            name=logical_id,
            definition_path=ROOT / props["DefinitionUri"],
            substitutions=props.get("DefinitionSubstitutions", {}),
        )

    def parameter_defaults(self) -> dict[str, str]:
        return {
            name: str(spec["Default"])
            for name, spec in self.document.get("Parameters", {}).items()
            if "Default" in spec
        }

    def parameter_default(self, name: str) -> Any:
        return self.document.get("Parameters", {}).get(name, {}).get("Default")

    def api_routes(self) -> list[tuple[str, str]]:
        """(method, path) of each route of the functions' `Api` events, e.g. ("GET", "/orders/{order_id}")."""
        routes = []
        for logical_id in self.logical_ids("AWS::Serverless::Function"):
            for event in self.resources[logical_id]["Properties"].get("Events", {}).values():
                if event.get("Type") == "Api":
                    routes.append((str(event["Properties"]["Method"]).upper(), str(event["Properties"]["Path"])))
        return sorted(routes, key=lambda route: (route[1], route[0]))


def resolve(value: Any, names: dict[str, str], attributes: dict[tuple[str, str], str]) -> Any:
    """Resolves Ref / Fn::GetAtt / Fn::Sub against the local names of resources and parameters."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return names[arg]
        if key == "Fn::GetAtt":
            return attributes[(arg[0], arg[1])]
        if key == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            for name, local in {**names, "AWS::StackName": names.get("AWS::StackName", "seatflow")}.items():
                text = text.replace("${" + name + "}", str(local))
            return text
    if isinstance(value, (int, float, str)):
        return str(value) if not isinstance(value, str) else value
    raise ValueError(f"cannot resolve {value!r} locally")


def render_definition(spec: StateMachineSpec, substitutions: dict[str, str]) -> str:
    text = spec.definition_path.read_text(encoding="utf-8")
    for key, val in substitutions.items():
        text = text.replace("${" + key + "}", val)
    json.loads(text)  # a broken substitution should fail here, not deep in the interpreter
    return text
