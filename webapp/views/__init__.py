"""Blueprints, one per domain noun, plus the sign-in and the developer mailbox."""

from __future__ import annotations

from flask import Flask

from webapp.config import Config


def register_blueprints(app: Flask, config: Config) -> None:
    """Attach every blueprint; the mailbox only in development."""
    from . import (
        activities,
        activity_health,
        activity_occurrences,
        activity_respond,
        application_reports,
        applications,
        apply,
        auth,
        campaigns,
        charter_adoption,
        charter_public,
        charter_respond,
        charter_statements,
        charters,
        communities,
        decisions,
        devmail,
        errors,
        inbound,
        labels,
        meet,
        meetings,
        people,
        polls,
        public,
        questionnaires,
        respond,
    )

    app.register_blueprint(auth.bp)
    app.register_blueprint(communities.bp)
    app.register_blueprint(people.bp)
    app.register_blueprint(campaigns.bp)
    app.register_blueprint(respond.bp)
    app.register_blueprint(apply.bp)
    app.register_blueprint(meet.bp)
    app.register_blueprint(charter_respond.bp)
    app.register_blueprint(charters.bp)
    app.register_blueprint(charter_statements.bp)
    app.register_blueprint(charter_adoption.bp)
    app.register_blueprint(charter_public.bp)
    app.register_blueprint(meetings.bp)
    app.register_blueprint(polls.bp)
    app.register_blueprint(inbound.bp)
    app.register_blueprint(applications.bp)
    app.register_blueprint(application_reports.bp)
    app.register_blueprint(questionnaires.bp)
    app.register_blueprint(decisions.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(activities.bp)
    app.register_blueprint(activity_occurrences.bp)
    app.register_blueprint(activity_health.bp)
    app.register_blueprint(activity_respond.bp)
    if config.development:
        app.register_blueprint(devmail.bp)
    errors.register(app)
    app.context_processor(labels.label_helpers)
    app.jinja_env.add_extension("jinja2.ext.do")
