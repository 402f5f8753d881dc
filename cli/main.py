"""The `duban` command line: a thin layer over the core (see each command's module)."""

import typer

from cli.help_words import BilingualGroup

app = typer.Typer(
    cls=BilingualGroup,  # click's own words (Usage, Options…) bilingual too
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="督办 duban：载入方案、催办各单位、记录报送、审核销号、督办通报 / load the plan, chase "
    "the departments, record and review their reports, publish the bulletin.",
)
plan_app = typer.Typer(no_args_is_help=True,
                       help="方案配置：检查、显示、载入 / check, show and load the plan config.")
db_app = typer.Typer(no_args_is_help=True,
                     help="台账数据库：迁移、备份 / the ledger database: migrations, backups.")
app.add_typer(plan_app, name="plan")
app.add_typer(db_app, name="db")
