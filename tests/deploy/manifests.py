"""deploy/ read as the tests see it: the Kubernetes documents by kind, the compose file, and
the names of the service's settings (to catch a misspelt variable in a manifest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from server.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose.yaml"

Doc = dict[str, Any]


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def kustomization() -> Doc:
    doc: Doc = load(KUBERNETES / "kustomization.yaml")
    return doc


def kubernetes_documents() -> list[tuple[str, Doc]]:
    """(file name, document) of every resource the kustomization lists."""
    found = []
    for name in kustomization()["resources"]:
        for doc in yaml.safe_load_all((KUBERNETES / name).read_text()):
            if doc is not None:
                found.append((name, doc))
    return found


def one(kind: str, name: str | None = None) -> Doc:
    docs = [
        doc
        for _, doc in kubernetes_documents()
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
    ]
    assert len(docs) == 1, f"expected one {kind} {name or ''}, found {len(docs)}"
    return docs[0]


def setting_names() -> set[str]:
    """Every environment variable the service reads, upper case."""
    names = set()
    for field_name, field in Settings.model_fields.items():
        names.add((field.alias or field_name).upper())
    return names
