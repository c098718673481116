"""CLI: ``users add|token|disable|delete`` for admin accounts and API tokens; ``categories export|import``;
``model list|activate|rollback`` for the trained model every classifier uses."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from gateway.cli_output import emit
from gateway.cli_output import runtime as _runtime
from storage.accounts import CLIENT_ROLES

AUDIT_ACTOR = "cli"


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def cmd_users_add(args: argparse.Namespace) -> int:
    from gateway.admin.users import set_user
    from storage.db import transaction

    password = None if args.role in CLIENT_ROLES else _password(args)
    runtime = _runtime()
    with transaction(runtime.sessions) as session:
        user = set_user(session, args.name, args.role, password, AUDIT_ACTOR)
        emit({"user": user.name, "role": user.role})
    return 0


def cmd_users_token(args: argparse.Namespace) -> int:
    from gateway.admin.users import issue_token
    from storage.db import transaction

    runtime = _runtime()
    with transaction(runtime.sessions) as session:
        token = issue_token(session, args.name, AUDIT_ACTOR)
    emit({"user": args.name, "token": token,
           "note": "shown once; send it as 'Authorization: Bearer <token>'"})
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    from gateway.admin.users import disable_user
    from storage.db import transaction

    with transaction(_runtime().sessions) as session:
        disable_user(session, args.name, AUDIT_ACTOR)
    emit({"user": args.name, "disabled": True,
          "note": "sessions and API token stop working now; `users add` resets the account"})
    return 0


def cmd_users_delete(args: argparse.Namespace) -> int:
    from gateway.admin.users import delete_user
    from storage.db import transaction

    with transaction(_runtime().sessions) as session:
        delete_user(session, args.name, AUDIT_ACTOR)
    emit({"user": args.name, "deleted": True})
    return 0


def cmd_categories_export(args: argparse.Namespace) -> int:
    from gateway.admin.catalog import export_csv, export_yaml
    from storage.catalog import effective_tree
    from storage.db import transaction

    runtime = _runtime()
    with transaction(runtime.sessions) as session:
        tree = effective_tree(session, runtime.base_tree)
    path = Path(args.file)
    if path.suffix.lower() == ".csv":
        path.write_text("\ufeff" + export_csv(tree), "utf-8")
    elif path.suffix.lower() in (".yaml", ".yml"):
        path.write_text(export_yaml(tree), "utf-8")
    else:
        raise ValueError(f"{path}: expected a .csv or .yaml file name")
    emit({"file": str(path), "classes": len(tree), "keyword_version": tree.version})
    return 0


def cmd_categories_import(args: argparse.Namespace) -> int:
    from gateway.admin.catalog import parse_import, save_classes
    from storage.db import transaction

    path = Path(args.file)
    changes = parse_import(path.name, path.read_text("utf-8-sig"))
    runtime = _runtime()
    with transaction(runtime.sessions) as session:
        version = save_classes(session, runtime.base_tree, changes, AUDIT_ACTOR, "category.import")
    emit({"file": str(path), "changed": version is not None, "keyword_version": version})
    return 0


def cmd_categories_editions(args: argparse.Namespace) -> int:
    from categories import load_tree
    from categories.crosswalk import unmapped
    from categories.tree import EDITIONS

    active = _runtime().settings.categories.edition
    rows = []
    for edition in EDITIONS:
        tree = load_tree(edition=edition)
        kinds = Counter(c.kind for c in tree)
        rows.append({"edition": edition, "active": edition == active, "classes": len(tree),
                     "components": kinds["component"], "events": kinds["event"],
                     "majors": len(tree.majors), "unmapped": len(unmapped(edition))})
    emit(rows)
    return 0


def cmd_categories_map(args: argparse.Namespace) -> int:
    from categories import CategoryError, load_tree
    from categories.crosswalk import mappings
    from categories.tree import edition_of

    try:
        source = load_tree(edition=edition_of(args.label))
        target = load_tree(edition=args.to)
    except CategoryError as exc:
        raise ValueError(str(exc)) from None
    if args.label not in source:
        raise ValueError(f"unknown label {args.label}")
    emit({"label": args.label, "name": source.get(args.label).name_zh, "to": args.to,
          "mapped": [{"label": m.to_label, "name": target.get(m.to_label).name_zh,
                      "relation": m.relation, "basis": m.basis}
                     for m in mappings(args.label, args.to)]})
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    from gateway.admin.models import current_version, list_models
    from storage.db import transaction

    runtime = _runtime()
    with transaction(runtime.sessions) as session:
        found = list_models(session, runtime)
        state = current_version(session)
    emit({**state, "models": [{"name": m.name, "path": str(m.path), "active": m.active,
                                "dev_figures": m.figures} for m in found]})
    return 0


def _activate(name: str) -> int:
    from gateway.admin.models import activate
    from storage.db import transaction

    runtime = _runtime()
    with transaction(runtime.sessions) as session:
        version = activate(session, runtime, name, AUDIT_ACTOR)
    emit({"model": name, "model_version": version})
    return 0


def cmd_model_activate(args: argparse.Namespace) -> int:
    return _activate(args.name)


def cmd_model_rollback(args: argparse.Namespace) -> int:
    from gateway.admin.models import SHIPPED

    return _activate(SHIPPED)


def register(subparsers: Any) -> None:
    users = subparsers.add_parser("users", help="admin UI accounts").add_subparsers(
        dest="users_command", required=True)
    p = users.add_parser("add", help="create a user or reset their role and password")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=("admin", "operator", *CLIENT_ROLES),
                   help="open311: an Open311 client; its token (users token) is its api_key")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(func=cmd_users_add)
    p = users.add_parser("token", help="issue an API bearer token for a user (replaces the old one)")
    p.add_argument("name")
    p.set_defaults(func=cmd_users_token)
    p = users.add_parser("disable", help="end the user's sessions and refuse sign-in and API token now")
    p.add_argument("name")
    p.set_defaults(func=cmd_users_disable)
    p = users.add_parser("delete", help="remove the user (ends their sessions and API token now)")
    p.add_argument("name")
    p.set_defaults(func=cmd_users_delete)

    cats = subparsers.add_parser("categories", help="the category tree with keywords").add_subparsers(
        dest="categories_command", required=True)
    p = cats.add_parser("export", help="write the current tree to FILE.csv or FILE.yaml")
    p.add_argument("file")
    p.set_defaults(func=cmd_categories_export)
    p = cats.add_parser("import", help="apply a CSV/YAML tree (as exported); audited, bumps the version")
    p.add_argument("file")
    p.set_defaults(func=cmd_categories_import)
    p = cats.add_parser("editions", help="the catalogue editions shipped, their class counts, the active one")
    p.set_defaults(func=cmd_categories_editions)
    p = cats.add_parser("map", help="a label's class(es) in another edition, through the crosswalk")
    p.add_argument("label")
    p.add_argument("--to", required=True, help="cjt214 | gbt47678-2026")
    p.set_defaults(func=cmd_categories_map)

    model = subparsers.add_parser("model", help="the trained model classifiers use").add_subparsers(
        dest="model_command", required=True)
    p = model.add_parser("list", help="the shipped and retrained models, their dev figures, the active one")
    p.set_defaults(func=cmd_model_list)
    p = model.add_parser("activate", help="make a model (a name from 'model list') active everywhere")
    p.add_argument("name")
    p.set_defaults(func=cmd_model_activate)
    p = model.add_parser("rollback", help="go back to the shipped model")
    p.set_defaults(func=cmd_model_rollback)
