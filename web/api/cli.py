"""The ``careplace token`` commands: an administrator creates, revokes and lists the service accounts that call the API."""

import json
import sys

from care.errors import InvalidValueError, NotFoundError
from careplace.output import print_rows, to_jsonable
from web.api.tokens import ROLES, create_account, list_accounts, revoke_account

LIST_COLUMNS = ["id", "name", "role", "provider_id", "token_prefix", "created_by", "created_at", "last_used_at", "revoked_at"]


def add_token_commands(add) -> None:
    """Register ``token create``, ``token revoke`` and ``token list`` with the CLI's ``add`` helper."""
    token = add("token", cmd_token_list, "create, revoke and list the API tokens of service accounts")
    actions = token.add_subparsers(dest="token_action", required=True)

    create = actions.add_parser("create", help="create a service account and print its token once")
    create.set_defaults(func=cmd_token_create)
    create.add_argument("name", help="a unique name for the calling system, such as finance-system")
    create.add_argument("--role", required=True, choices=ROLES, help="the role whose rights the token has")
    create.add_argument("--provider-id", type=int, help="the provider a provider_user token is limited to")
    create.add_argument("--json", action="store_true", help="print JSON instead of text")

    revoke = actions.add_parser("revoke", help="revoke a service account's token at once")
    revoke.set_defaults(func=cmd_token_revoke)
    revoke.add_argument("account_id", type=int, help="the id shown by 'careplace token list'")
    revoke.add_argument("--json", action="store_true", help="print JSON instead of text")

    listing = actions.add_parser("list", help="list service accounts without their tokens")
    listing.set_defaults(func=cmd_token_list)
    listing.add_argument("--all", action="store_true", help="include revoked accounts")
    listing.add_argument("--json", action="store_true", help="print JSON instead of text")


def _failed(args, error: Exception) -> int:
    """Report a failed token command on standard error, and as JSON on standard output under --json."""
    if args.json:
        print(json.dumps({"error": type(error).__name__, "message": str(error)}))
    print(f"careplace: {error}", file=sys.stderr)
    return 1


def cmd_token_create(args, services) -> int:
    try:
        with services.session_factory.begin() as db:
            new = create_account(db, name=args.name, role=args.role, provider_id=args.provider_id, created_by=args.user)
    except (InvalidValueError, NotFoundError) as error:
        return _failed(args, error)

    if args.json:
        print(json.dumps({"id": new.account_id, "name": new.name, "token": new.token}))
        return 0
    print(f"created service account {new.account_id} ({new.name})")
    print(f"token: {new.token}")
    print("This is the only time the token is shown. Store it in the calling system's secret store now.")
    return 0


def cmd_token_revoke(args, services) -> int:
    try:
        with services.session_factory.begin() as db:
            account = revoke_account(db, args.account_id, revoked_by=args.user)
            revoked_at = account.revoked_at
    except NotFoundError as error:
        return _failed(args, error)

    print(json.dumps({"id": args.account_id, "revoked_at": revoked_at.isoformat()}) if args.json else f"revoked service account {args.account_id}")
    return 0


def cmd_token_list(args, services) -> int:
    with services.session_factory() as db:
        accounts = list_accounts(db, include_revoked=getattr(args, "all", False))
    if args.json:
        print(json.dumps([{column: to_jsonable(getattr(account, column)) for column in LIST_COLUMNS} for account in accounts]))
        return 0
    print_rows(accounts, LIST_COLUMNS, False)
    return 0
