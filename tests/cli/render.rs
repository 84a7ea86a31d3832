//! What the commands show, pinned down: the outcome of a `reset`, a `swap-db`, a failed run, a
//! `backup capture`, a fleet, and the plan and question before a destructive run, each at 80
//! and 160 columns, with and without colour. No line is wider than its terminal.

use std::path::PathBuf;
use std::time::Duration;

use herokuops::api::models::Transfer;
use herokuops::cli::commands::backup::Captured;
use herokuops::cli::commands::db::{Diagnosis, Verification};
use herokuops::cli::commands::playbook::{Plan, RunReport};
use herokuops::cli::fleet::FleetOutcome;
use herokuops::fleet::{AppRow, AppStatus, FleetReport};
use herokuops::output::style::visible_width;
use herokuops::output::{Look, Outcome};
use herokuops::pg::diagnose::{Details, Finding, Rating};
use herokuops::pg::{Drift, DriftKind, ObjectKind};
use herokuops::playbooks::StepKind;
use herokuops::playbooks::journal::{RunState, RunStatus, StepRecord, StepStatus};
use herokuops::playbooks::plan::{Preflight, StepPlan};
use herokuops::playbooks::runner::Report;
use herokuops::steps::addons::Creation;
use herokuops::steps::promote::Promotion;

const TABLES: [&str; 25] = [
    "administrators",
    "assets",
    "authorization_codes",
    "cache_entries",
    "collaborators",
    "diagrams",
    "documents",
    "groups",
    "metadata",
    "notes",
    "refresh_tokens",
    "repositories",
    "schema_migrations",
    "sessions",
    "source_entries",
    "threat_model_access",
    "threat_models",
    "threats",
    "user_api_quotas",
    "user_groups",
    "user_preferences",
    "users",
    "webhook_deliveries",
    "webhook_quotas",
    "webhooks",
];

fn step(step: StepKind, status: StepStatus, ms: u64, detail: &str) -> StepRecord {
    StepRecord {
        step,
        status,
        started_at: Some("2026-11-30T10:15:00Z".into()),
        duration_ms: (status != StepStatus::Pending).then_some(ms),
        detail: (status == StepStatus::Done).then(|| detail.to_string()),
        error: (status == StepStatus::Failed).then(|| detail.to_string()),
    }
}

fn report(playbook: &str, status: RunStatus, steps: Vec<StepRecord>, state: RunState) -> Report {
    Report {
        run_id: "20261130T101500Z-3f9a".into(),
        playbook: playbook.into(),
        app: "tmi-server".into(),
        status,
        steps,
        state,
        journal: Some(PathBuf::from(
            "/home/ops/.local/state/herokuops/runs/20261130T101500Z-3f9a.json",
        )),
        error: None,
        app_state: None,
        resume_command: None,
        abandoned: false,
    }
}

fn reset() -> RunReport {
    let steps = vec![
        step(
            StepKind::PgDropSchema,
            StepStatus::Done,
            412,
            "dropped and recreated schema public (25 tables before)",
        ),
        step(
            StepKind::Migrate,
            StepStatus::Done,
            140,
            "restarted all dynos; pg.verify waits for the migration",
        ),
        step(
            StepKind::PgVerify,
            StepStatus::Done,
            1443,
            "schema matches (25 tables); web.1 starting, worker.1 starting",
        ),
    ];
    let state = RunState {
        safety_backup: Some("b004".into()),
        ..Default::default()
    };
    RunReport {
        report: report("reset", RunStatus::Succeeded, steps, state),
        failure: None,
    }
}

fn swap_db() -> RunReport {
    use StepKind::*;
    let done = |s, ms, d| step(s, StepStatus::Done, ms, d);
    let steps = vec![
        done(
            AddonsCreate,
            130,
            "created postgresql-opaque-13312 (heroku-postgresql:essential-0)",
        ),
        done(PgWait, 1604, "postgresql-opaque-13312 is Available"),
        done(MaintenanceOn, 21, "maintenance on"),
        done(
            PgPromote,
            310,
            "postgresql-opaque-13312 is now DATABASE_URL",
        ),
        done(MaintenanceOff, 18, "maintenance off"),
        done(DynosRestart, 12, "restarted all dynos"),
        done(
            PgVerify,
            1614,
            "schema matches (25 tables); web.1 starting, worker.1 starting",
        ),
    ];
    let state = RunState {
        addon: Creation {
            created: Some("postgresql-opaque-13312".into()),
            before: None,
        },
        promotion: Promotion {
            promoting_from: Some("postgresql-curly-22930".into()),
            previous_addon: Some("postgresql-curly-22930".into()),
            previous_alias: Some("HEROKU_POSTGRESQL_COBALT".into()),
        },
        safety_backup: Some("b005".into()),
        ..Default::default()
    };
    RunReport {
        report: report("swap-db", RunStatus::Succeeded, steps, state),
        failure: None,
    }
}

fn failed_reset() -> RunReport {
    let steps = vec![
        step(
            StepKind::PgDropSchema,
            StepStatus::Done,
            412,
            "dropped and recreated schema public (25 tables before)",
        ),
        step(
            StepKind::Migrate,
            StepStatus::Failed,
            2210,
            "`alembic upgrade head` exited with status 1: SQLAlchemy refuses the postgres:// URL Heroku gives",
        ),
        step(StepKind::PgVerify, StepStatus::Pending, 0, ""),
    ];
    let state = RunState {
        safety_backup: Some("b004".into()),
        ..Default::default()
    };
    let mut report = report("reset", RunStatus::Failed, steps, state);
    report.app_state = Some(
        "the data from before the run is in backup b004; schema public was dropped (25 tables): \
         `herokuops backup restore tmi-server b004 --confirm tmi-server` brings it back"
            .into(),
    );
    report.resume_command = Some("herokuops resume 20261130T101500Z-3f9a".into());
    RunReport {
        report,
        failure: Some("`alembic upgrade head` exited with status 1".into()),
    }
}

fn plan() -> Plan {
    let describe = |step: StepKind, description: &str| StepPlan {
        step,
        description: description.into(),
        requests: vec![],
        sql: vec![],
        destructive: step.is_destructive(),
    };
    Plan {
        dry_run: false,
        playbook: "reset".into(),
        app: "tmi-server".into(),
        preflight: Preflight {
            account: "ops@example.com".into(),
            app: "tmi-server".into(),
            database_addon: "postgresql-curly-22930".into(),
            database_plan: Some("heroku-postgresql:essential-0".into()),
            maintenance: false,
            tables: TABLES.iter().map(|t| t.to_string()).collect(),
            rows: 184_223,
            schema: None,
            expect: Some("schema/tmi.toml".into()),
        },
        safety_backup: true,
        steps: vec![
            describe(
                StepKind::PgDropSchema,
                "drop schema public of postgresql-curly-22930 (25 tables) and recreate it with its owner and grants, in one transaction",
            ),
            describe(
                StepKind::Migrate,
                "restart the dynos so the app migrates at boot (pg.verify waits for it)",
            ),
            describe(
                StepKind::PgVerify,
                "poll until the schema matches schema/tmi.toml; a crashed dyno fails it at once",
            ),
        ],
    }
}

fn captured() -> Captured {
    Captured {
        app: "tmi-server".into(),
        backup: "b006".into(),
        transfer: Transfer {
            num: 6,
            processed_bytes: 48_234_496,
            succeeded: true,
            created_at: Some("2026-11-30T10:15:00Z".into()),
            finished_at: Some("2026-11-30T10:15:09Z".into()),
            ..Default::default()
        },
        download: None,
    }
}

fn fleet() -> FleetOutcome {
    let row = |app: &str, status, exit_code, detail: &str| AppRow {
        app: app.into(),
        status,
        exit_code,
        detail: detail.into(),
        duration_ms: 1234,
        result: None,
    };
    FleetOutcome {
        report: FleetReport {
            rows: vec![
                row("shop-eu", AppStatus::Ok, 0, "backup b017 (1.21 GiB)"),
                row(
                    "shop-us",
                    AppStatus::Failed,
                    1,
                    "app shop-us: Couldn't find that app (HTTP 404, not_found) (hint: check the app name (`heroku apps` lists yours) and that this token's account can see it)",
                ),
                row(
                    "shop-asia-pacific-staging",
                    AppStatus::Drift,
                    3,
                    "verification found 4 difference(s) from the expected schema",
                ),
            ],
            interrupted: false,
            elapsed: Duration::from_millis(4312),
        },
        playbook: false,
    }
}

/// `verify` after a migration that went its own way: a missing column, a changed CHECK, an
/// extra index, and a view whose long definition differs.
fn verify_with_drift() -> Verification {
    let mut view = Drift::new(
        DriftKind::Changed,
        "active_threat_models",
        " SELECT threat_models.id,\n    threat_models.name,\n    threat_models.owner_id\n   FROM threat_models\n  WHERE (threat_models.deleted_at IS NULL);",
        " SELECT threat_models.id,\n    threat_models.name,\n    threat_models.owner_id,\n    threat_models.status\n   FROM threat_models\n  WHERE (threat_models.deleted_at IS NULL);",
    );
    view.object_kind = ObjectKind::View;
    view.aspect = "definition".into();
    let drift = vec![
        Drift::new(
            DriftKind::MissingColumn,
            "users.last_login_at",
            "timestamp with time zone",
            "",
        ),
        Drift::new(
            DriftKind::CheckDefinition,
            "threats.threats_severity_check",
            "CHECK (severity = ANY (ARRAY['low'::text, 'medium'::text, 'high'::text]))",
            "CHECK (severity = ANY (ARRAY['low'::text, 'medium'::text, 'high'::text, 'critical'::text]))",
        ),
        Drift::new(
            DriftKind::ExtraIndex,
            "webhook_deliveries.webhook_deliveries_created_at_idx",
            "",
            "CREATE INDEX webhook_deliveries_created_at_idx ON public.webhook_deliveries USING btree (created_at)",
        ),
        view,
    ];
    Verification {
        ok: false,
        database: "tmi-server".into(),
        expect: "schema/tmi.toml".into(),
        schema: "public".into(),
        tables: 25,
        drift,
    }
}

fn finding(
    id: &'static str,
    title: &'static str,
    rating: Rating,
    value: &str,
    threshold: &str,
) -> Finding {
    Finding {
        id,
        title,
        rating,
        value: value.into(),
        threshold: threshold.into(),
        details: Details::default(),
    }
}

/// `db diagnose` of a database with a slow query, an unused index, and its sizes.
fn diagnosis() -> Diagnosis {
    let mut long = finding(
        "long_running_queries",
        "Long-running queries",
        Rating::Warn,
        "1",
        "ok: none over 1m, warn: over 1m, fail: over 5m",
    );
    long.details = Details {
        columns: vec!["pid".into(), "duration".into(), "query".into()],
        rows: vec![vec!["4127".into(), "00:03:12".into(), "SELECT t.id, t.name, count(*) FROM threats t JOIN threat_models m ON m.id = t.threat_model_id GROUP BY t.id, t.name ORDER BY count(*) DESC".into()]],
    };
    let mut unused = finding(
        "unused_indexes",
        "Unused indexes",
        Rating::Fail,
        "2 (1.2 GiB)",
        "ok: none over 1 MiB unused, fail: any",
    );
    unused.details = Details {
        columns: vec![
            "index".into(),
            "table".into(),
            "size".into(),
            "scans".into(),
        ],
        rows: vec![
            vec![
                "webhook_deliveries_created_at_idx".into(),
                "webhook_deliveries".into(),
                "1.1 GiB".into(),
                "0".into(),
            ],
            vec![
                "threats_legacy_idx".into(),
                "threats".into(),
                "96.0 MiB".into(),
                "0".into(),
            ],
        ],
    };
    let mut sizes = finding(
        "sizes",
        "Largest tables",
        Rating::Ok,
        "3.4 GiB in all",
        "information",
    );
    sizes.details = Details {
        columns: vec![
            "table".into(),
            "total".into(),
            "table only".into(),
            "indexes".into(),
        ],
        rows: vec![
            vec![
                "webhook_deliveries (partitioned)".into(),
                "2.9 GiB".into(),
                "1.7 GiB".into(),
                "1.2 GiB".into(),
            ],
            vec![
                "threats".into(),
                "412.0 MiB".into(),
                "301.5 MiB".into(),
                "110.5 MiB".into(),
            ],
        ],
    };
    Diagnosis {
        database: "tmi-server".into(),
        worst: Rating::Fail,
        findings: vec![
            finding(
                "table_cache_hit",
                "Table cache hit rate",
                Rating::Ok,
                "99.8%",
                "ok >= 99%, warn >= 95%, fail below",
            ),
            finding(
                "connections",
                "Connections",
                Rating::Ok,
                "12 of 120 (10%)",
                "ok < 80%, warn < 95%, fail above",
            ),
            long,
            unused,
            sizes,
        ],
        fail_on: Some(Rating::Fail),
    }
}

/// Renders at a width, with or without colour, and checks that every line fits.
fn shown(outcome: &dyn Outcome, width: usize, color: bool) -> String {
    let look = Look {
        color,
        width: Some(width),
        verbose: false,
    };
    let text = outcome.human(&look);
    for line in text.lines() {
        assert!(
            visible_width(line) <= width,
            "a line of {} columns at {width}:\n{line}",
            visible_width(line)
        );
    }
    text
}

fn question_shown(width: usize, color: bool) -> String {
    let look = Look {
        color,
        width: Some(width),
        verbose: false,
    };
    let plan = plan();
    let text = format!(
        "{}\n{}",
        plan.text(&look, false),
        herokuops::cli::commands::playbook::question(&plan, &look)
    );
    for line in text.lines() {
        assert!(visible_width(line) <= width, "{line}");
    }
    text
}

macro_rules! snapshots {
    ($($name:ident => $outcome:expr;)*) => {
        $(
            #[test]
            fn $name() {
                let outcome = $outcome;
                for (width, color) in [(80, false), (160, false), (80, true), (160, true)] {
                    let suffix = format!("{width}{}", if color { "_color" } else { "" });
                    insta::assert_snapshot!(
                        format!("{}_{suffix}", stringify!($name)),
                        shown(&outcome, width, color)
                    );
                }
            }
        )*
    };
}

snapshots! {
    reset_report => reset();
    swap_db_report => swap_db();
    failed_reset_report => failed_reset();
    backup_capture => captured();
    fleet_report => fleet();
    verify_drift => verify_with_drift();
    db_diagnose => diagnosis();
}

#[test]
fn plan_and_question_before_a_reset() {
    for (width, color) in [(80, false), (160, false), (80, true), (160, true)] {
        let suffix = format!("{width}{}", if color { "_color" } else { "" });
        insta::assert_snapshot!(
            format!("reset_question_{suffix}"),
            question_shown(width, color)
        );
    }
}

#[test]
fn a_pipe_gets_no_colour_and_no_wrapping() {
    let text = reset().human(&Look::PLAIN);
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("dropped and recreated schema public (25 tables before)"));
}
