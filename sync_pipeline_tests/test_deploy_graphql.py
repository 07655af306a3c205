"""The GraphQL documents `deploy-local` sends (schedule, sensors, runs, backfills) are valid
against the webserver's schema (`dagster_graphql`), so a typo fails here, not in `make prod`."""

from __future__ import annotations

from dagster_graphql.schema import create_schema
from graphql import parse, validate

from sync_pipeline.commands import deploy_check, deploy_check_hooks


def test_every_deploy_document_validates_against_the_dagster_schema() -> None:
    schema = create_schema().graphql_schema
    documents = [
        value
        for module in (deploy_check, deploy_check_hooks)
        for name, value in vars(module).items()
        if name.isupper()
        and isinstance(value, str)
        and value.lstrip().startswith(("query", "mutation"))
    ]
    assert deploy_check.START_SENSOR in documents and deploy_check_hooks.SENSOR_TICKS in documents
    for document in documents:
        assert validate(schema, parse(document)) == [], document
