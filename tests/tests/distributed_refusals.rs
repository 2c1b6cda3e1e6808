//! Distributed mode refuses what would corrupt or split a cluster, with an
//! error naming the key to fix, before it writes anything: internal topics
//! of the wrong shape, a worker whose config topic differs from its
//! group's, and a broker it cannot reach.

use std::time::Duration;

use sluice_tests::*;

const EXIT: Duration = Duration::from_secs(90);

/// A worker of group `group` that must exit at start: its log.
fn refused(scratch: &Scratch, broker: &Broker, group: &str, extra: &[(&str, String)]) -> String {
    let setup = WorkerSetup::distributed(scratch, broker, group, 0, extra);
    let (status, log) = setup.run_expecting_exit(EXIT);
    assert!(!status.success(), "the worker started: {log}");
    log
}

#[test]
fn a_config_topic_with_several_partitions_is_refused_before_anything_is_written() {
    let broker = Broker::start();
    broker.create_topic_with("wide-configs", 3, "compact");
    let scratch = Scratch::new("refuse-wide");
    let log = refused(&scratch, &broker, "wide", &[]);
    assert!(log.contains("config.storage.topic"), "{log}");
    assert!(log.contains("wide-configs"), "{log}");
    assert!(log.contains("has 3 partitions"), "{log}");
    assert_eq!(
        broker.high_watermark("wide-configs"),
        0,
        "the worker wrote to it"
    );
}

#[test]
fn an_internal_topic_that_is_not_compacted_is_refused() {
    let broker = Broker::start();
    broker.create_topic_with("loose-status", 1, "delete");
    let scratch = Scratch::new("refuse-loose");
    let log = refused(&scratch, &broker, "loose", &[]);
    assert!(log.contains("status.storage.topic"), "{log}");
    assert!(log.contains("cleanup.policy"), "{log}");
    assert_eq!(
        broker.high_watermark("loose-status"),
        0,
        "the worker wrote to it"
    );
}

#[test]
fn a_worker_that_cannot_reach_the_broker_names_bootstrap_servers() {
    let broker = Broker::start();
    let scratch = Scratch::new("refuse-unreachable");
    let nowhere = format!("127.0.0.1:{}", free_port());
    let log = refused(
        &scratch,
        &broker,
        "lost",
        &[("bootstrap.servers", nowhere.clone())],
    );
    assert!(log.contains("bootstrap.servers"), "{log}");
    assert!(log.contains(&nowhere), "{log}");
}

#[test]
fn a_worker_with_another_config_topic_in_the_same_group_exits() {
    let broker = Broker::start();
    let scratch = Scratch::new("refuse-mixed");
    let first = WorkerSetup::distributed(&scratch, &broker, "mixed", 0, &[]).spawn();
    first.wait_ready();
    // The first worker leads before the second arrives.
    wait_for("the first worker to lead", Duration::from_secs(60), || {
        first.log().contains("(leader)").then_some(())
    });
    let other = [("config.storage.topic", "mixed-other-configs".to_string())];
    let log = refused(&scratch, &broker, "mixed", &other);
    assert!(log.contains("config.storage.topic"), "{log}");
    assert!(log.contains("mixed-configs"), "{log}");
    assert_eq!(
        broker.high_watermark("mixed-other-configs"),
        0,
        "the stranger wrote"
    );
    // The first worker goes on leading its group.
    let (code, _) = first.get("/connectors").expect("the first worker answers");
    assert_eq!(code, 200);
}
