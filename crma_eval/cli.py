"""The `crma-eval` command line: the click group and its exit-code edge.

Exit codes: 0 ok, 1 gate failed, 2 bad input, 3 internal error. The verbs themselves are listed in
`crma_eval.verbs` (built-in ones, and those installed plugins contribute) and loaded when used.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import click

from crma_eval.errors import InputError
from crma_eval.verbs import load_verb, verb_names
from crma_eval.verbs.common import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, echo_error
from crma_eval.versions import __version__


class _Group(click.Group):
    """A click group whose verbs come from the verb registry (`crma_eval.verbs`) and that maps
    our exceptions onto the documented exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *verb_names()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or load_verb(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            echo_error(exc.one_line())
            ctx.exit(EXIT_BAD_INPUT)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except OSError as exc:
            from crma_eval.oserrors import user_fixable

            fixable = user_fixable(exc)
            if fixable is None:
                _internal()
                ctx.exit(EXIT_INTERNAL)
            echo_error(fixable.one_line())
            ctx.exit(EXIT_BAD_INPUT)
        except Exception:
            _internal()
            ctx.exit(EXIT_INTERNAL)


def _internal() -> None:
    """The internal-error report (exit 3): the traceback, then one line saying it is a bug."""
    traceback.print_exc()
    click.echo("crma-eval: internal error (a bug): please report it", err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crma-eval")
def cli() -> None:
    """Evaluate continual LoRA fine-tuning with a CRMA backbone: collect, analyze, report, gate."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. Usage errors are one line naming the option and `--help`
    (exit 2), like every other bad input."""
    try:
        code = cli.main(args=argv, prog_name="crma-eval", standalone_mode=False)
    except click.exceptions.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "crma-eval"
        echo_error(f"{exc.format_message()} (see `{where} --help`)")
        sys.exit(EXIT_BAD_INPUT)
    except click.exceptions.ClickException as exc:
        echo_error(exc.format_message())
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        echo_error("aborted")
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
