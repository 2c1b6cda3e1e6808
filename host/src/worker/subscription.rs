//! What a sink task's consumer subscribes to: the topics `topics` names, or
//! the cluster's topics that `topics.regex` matches, looked up again every
//! [`PATTERN_REFRESH`] so that topics created later are read too (Kafka
//! Connect finds them at its consumer's metadata refresh). The pattern is
//! matched here, with the same `regex` that checked it, rather than handed
//! to librdkafka, whose own pattern dialect refuses some of what topic
//! patterns use.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};

use crate::config::connector::SinkTopics;

/// How often a pattern is matched against the cluster's topics again.
pub const PATTERN_REFRESH: Duration = Duration::from_secs(30);
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// The consumer's current subscription.
pub struct Subscription<'a> {
    topics: &'a SinkTopics,
    current: Vec<String>,
    next_check: Instant,
}

impl<'a> Subscription<'a> {
    /// Subscribes `consumer` to what `topics` selects now.
    pub fn start<C: ConsumerContext>(
        topics: &'a SinkTopics,
        consumer: &BaseConsumer<C>,
    ) -> Result<Self> {
        let mut subscription = Subscription {
            topics,
            current: Vec::new(),
            next_check: Instant::now(),
        };
        let wanted = match topics {
            SinkTopics::Named(names) => names.clone(),
            SinkTopics::Pattern(_) => subscription.matching(consumer)?,
        };
        subscription.apply(consumer, wanted)?;
        Ok(subscription)
    }

    /// For a pattern, when due: subscribes to the matching topics if they
    /// changed. A failed lookup keeps the subscription as it is and is
    /// tried again at the next refresh.
    pub fn refresh<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) -> Result<()> {
        if matches!(self.topics, SinkTopics::Named(_)) || Instant::now() < self.next_check {
            return Ok(());
        }
        match self.matching(consumer) {
            Ok(wanted) if wanted != self.current => self.apply(consumer, wanted),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!("{e:#}; keeping the subscription to {:?}", self.current);
                Ok(())
            }
        }
    }

    /// The cluster's topics the pattern matches, sorted; internal topics
    /// (`__consumer_offsets`, ...) are left out, as Java's consumer does.
    fn matching<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) -> Result<Vec<String>> {
        self.next_check = Instant::now() + PATTERN_REFRESH;
        let metadata = consumer
            .fetch_metadata(None, METADATA_TIMEOUT)
            .context("listing the cluster's topics for topics.regex")?;
        let mut wanted: Vec<String> = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && !t.name().starts_with("__"))
            .map(|t| t.name())
            .filter(|name| self.topics.includes(name))
            .map(str::to_string)
            .collect();
        wanted.sort();
        Ok(wanted)
    }

    fn apply<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        wanted: Vec<String>,
    ) -> Result<()> {
        if wanted.is_empty() {
            // A pattern that matches nothing yet: nothing to read until a
            // topic it matches appears.
            consumer.unsubscribe();
        } else {
            let refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
            consumer
                .subscribe(&refs)
                .with_context(|| format!("subscribing to {wanted:?}"))?;
        }
        if matches!(self.topics, SinkTopics::Pattern(_)) {
            tracing::info!("subscribed to {wanted:?}, the topics topics.regex matches");
        }
        self.current = wanted;
        Ok(())
    }
}
