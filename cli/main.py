"""The `duban` command line: a thin layer over the core (see each command's module)."""

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="督办 duban: load the plan, chase the departments, record their reports.",
)
plan_app = typer.Typer(no_args_is_help=True, help="Check, show and load the plan config.")
db_app = typer.Typer(no_args_is_help=True, help="The ledger database: migrations, backups.")
app.add_typer(plan_app, name="plan")
app.add_typer(db_app, name="db")
