"""`gridintake wechat menu push`: send the custom menu (data/menu.yaml) to WeChat's menu/create."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

import requests
from wechatpy.exceptions import WeChatClientException

from bot.handlers.wechat.incoming import menu


def wechat_menu() -> dict[str, Any]:
    """The menu as WeChat takes it: our `command` keys left out."""
    def button(b: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in b.items() if k not in ("command", "sub_button")}
        if "sub_button" in b:
            out["sub_button"] = [button(s) for s in b["sub_button"]]
        return out

    return {"button": [button(b) for b in menu()["button"]]}


def cmd_menu_push(args: argparse.Namespace, runtime: Any) -> int:
    data = wechat_menu()
    if args.dry_run:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    try:
        runtime.wechat.menu.create(data)
    except (WeChatClientException, requests.RequestException) as exc:
        print(f"gridintake: WeChat refused the menu: {exc}", file=sys.stderr)
        return 1
    print(f"menu pushed: {len(data['button'])} buttons", file=sys.stderr)
    return 0


def register(subparsers, runtime: Callable[[], Any]) -> None:
    """The `wechat` commands; ``runtime`` builds the gateway's runtime when one runs."""
    wechat = subparsers.add_parser("wechat", help="the WeChat Official Account").add_subparsers(
        dest="wechat_command", required=True)
    menu_cmd = wechat.add_parser("menu", help="the custom menu").add_subparsers(
        dest="menu_command", required=True)
    push = menu_cmd.add_parser("push", help="send the custom menu to WeChat (menu/create)")
    push.add_argument("--dry-run", action="store_true", help="print the menu instead of sending it")
    push.set_defaults(func=lambda args: cmd_menu_push(args, runtime()))
