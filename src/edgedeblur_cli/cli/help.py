"""Help that fits a screen: ``--help`` shows the options most runs need, one line each, and names
the rest; ``--help-all`` shows every option with its full text.

An option joins the short screen by being declared with ``**brief("one line")``.
"""

from __future__ import annotations

import textwrap

import click

SHOW_ALL = "edgedeblur.help_all"


class BriefOption(click.Option):
    """A ``click.Option`` with a one-line ``brief`` for the short help screen."""

    def __init__(self, *args, brief: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.brief = brief


def brief(text: str) -> dict:
    """``click.option(..., **brief("..."))``: show this option on the short ``--help`` screen."""
    return {"cls": BriefOption, "brief": text}


def _show_all(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    ctx.meta[SHOW_ALL] = True
    click.echo(ctx.get_help(), color=ctx.color)
    ctx.exit()


class BriefCommand(click.Command):
    """A command whose ``--help`` lists its brief options and names the others; ``details`` (text
    for readers of every option, e.g. a convention) is shown by ``--help-all`` only."""

    def __init__(self, *args, details: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.details = details

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        every = click.Option(["--help-all"], is_flag=True, expose_value=False, is_eager=True, callback=_show_all,
                             help="Show every option, with its full help.")
        return [*super().get_params(ctx), every]

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if ctx.meta.get(SHOW_ALL):
            super().format_options(ctx, formatter)
            return
        helps = {"help_all", *(ctx.help_option_names or ())}
        params = [p for p in self.get_params(ctx) if isinstance(p, click.Option) and p.name != "help_all" and not helps & set(p.opts)]
        shown = [(p.get_help_record(ctx)[0], p.brief) for p in params if isinstance(p, BriefOption) and p.brief]
        shown.append(("-h, --help / --help-all", "This screen / every option in full."))
        with formatter.section("Options"):
            formatter.write_dl(shown)
        others = [max(p.opts, key=len) for p in params if not (isinstance(p, BriefOption) and p.brief) and not p.hidden]
        if others:
            formatter.write_paragraph()
            text = "More options (--help-all): " + ", ".join(others) + "."
            width = max(40, formatter.width - formatter.current_indent)
            for line in textwrap.wrap(text, width, break_on_hyphens=False, subsequent_indent="  "):
                formatter.write(f"{'':>{formatter.current_indent}}{line}\n")

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        if ctx.meta.get(SHOW_ALL) and self.details:
            formatter.write_paragraph()
            formatter.write_text(self.details)
