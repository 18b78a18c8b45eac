import typer

app = typer.Typer(help="hm: human motion from video.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the version."""
    from hmcli import __version__

    typer.echo(__version__)
