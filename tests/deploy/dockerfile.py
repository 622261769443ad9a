"""A small Dockerfile reader and the rules Switchboard's image must follow.

`lint` returns the broken rules, so tests can show it passes the real Dockerfile and
fails broken ones.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.I)
SECRET_FILE = re.compile(r"(^|/)(\.env(\..*)?|tenants[^/]*\.ya?ml|.*\.pem|.*\.key|id_rsa.*)$")
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|build-essential|clang|make|cmake|python3?-dev)\b")


@dataclass
class Instruction:
    keyword: str
    value: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.value for i in self.instructions if i.keyword == keyword]


def instructions(text: str) -> list[Instruction]:
    """Logical instructions: continuation lines joined, comments and blanks dropped."""
    found, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, value = (pending + stripped).partition(" ")
        found.append(Instruction(keyword.upper(), value.strip()))
        pending = ""
    return found


def stages(text: str) -> list[Stage]:
    result: list[Stage] = []
    for ins in instructions(text):
        if ins.keyword == "FROM":
            words = ins.value.split()
            words = [w for w in words if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            result.append(Stage(base=words[0], name=name))
        elif result:
            result[-1].instructions.append(ins)
    return result


def global_args(text: str) -> dict[str, str | None]:
    """ARGs declared before the first FROM (usable in FROM lines), with their defaults."""
    found: dict[str, str | None] = {}
    for ins in instructions(text):
        if ins.keyword == "FROM":
            break
        if ins.keyword == "ARG":
            found.update(_assignments(ins.value))
    return found


def resolved_base(text: str, stage: Stage) -> str:
    """The stage's FROM image with ${ARG} defaults filled in."""
    names = global_args(text)
    return re.sub(r"\$\{?(\w+)\}?", lambda m: names.get(m.group(1)) or m.group(0), stage.base)


def exec_form(value: str) -> list[str]:
    """CMD/ENTRYPOINT as a list (JSON exec form, or shell form split on spaces)."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return shlex.split(value)
    return [str(p) for p in parsed] if isinstance(parsed, list) else [str(parsed)]


def final_user(stage: Stage) -> str | None:
    users = stage.all("USER")
    return users[-1] if users else None


def _assignments(value: str) -> list[tuple[str, str | None]]:
    """Names and values of `ARG`/`ENV` (`K=V K2=V2`, `K V` or a bare `K`)."""
    if "=" not in value.split()[0]:
        name, _, rest = value.partition(" ")
        return [(name, rest.strip() or None)]
    return [(p.split("=", 1)[0], p.split("=", 1)[1]) for p in shlex.split(value)]


def lint(text: str) -> list[str]:
    """Every rule the Dockerfile breaks; empty when it keeps them all."""
    found = []
    all_stages = stages(text)
    if len(all_stages) < 2:
        return ["not multi-stage: build tools must stay out of the runtime stage"]
    final = all_stages[-1]
    base = resolved_base(text, final)
    if not re.fullmatch(r"python:3\.\d+-slim(-\w+)?(@sha256:[0-9a-f]+)?", base):
        found.append(f"runtime stage is FROM {base}: want a python:3.x-slim image")
    by_name = {s.name: s for s in all_stages if s.name}
    for copy in final.all("COPY"):
        source = re.search(r"--from=(\S+)", copy)
        if source and source.group(1) in by_name:
            origin = resolved_base(text, by_name[source.group(1)])
            if origin != base:
                found.append(
                    f"COPY {copy}: built on {origin} but runs on {base}, a venv "
                    "only works on the Python it was made with"
                )
    user = final_user(final)
    uid = (user or "").split(":")[0]
    if not uid.isdigit() or int(uid) == 0:
        found.append(f"runtime stage USER is {user!r}: want a numeric non-root uid")
    args_before_from = Stage(
        base="",
        name=None,
        instructions=[
            Instruction("ARG", f"{k}={v}" if v else k) for k, v in global_args(text).items()
        ],
    )
    for stage in [args_before_from, *all_stages]:
        for ins in stage.instructions:
            if ins.keyword in {"ARG", "ENV"}:
                for name, value in _assignments(ins.value):
                    if SECRET_NAME.search(name) and value:
                        found.append(f"{ins.keyword} {name} bakes a secret value into the image")
            if ins.keyword in {"COPY", "ADD"}:
                sources = [w for w in shlex.split(ins.value) if not w.startswith("--")][:-1]
                found += [
                    f"{ins.keyword} {s} copies a secret into the image"
                    for s in sources
                    if SECRET_FILE.search(s.rstrip("/"))
                ]
    for run in final.all("RUN"):
        if BUILD_TOOLS.search(run):
            found.append(f"runtime stage installs build tools: RUN {run}")
    entrypoint = exec_form(final.all("ENTRYPOINT")[-1]) if final.all("ENTRYPOINT") else []
    command = exec_form(final.all("CMD")[-1]) if final.all("CMD") else []
    if (entrypoint or command)[:1] != ["switchboard"]:
        found.append(f"the image runs {entrypoint or command}, not `switchboard`")
    return found
