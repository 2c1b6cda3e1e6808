//! Predicates: the trait a plugin implements and the adapter that exports
//! it through the `predicate` world, one call per batch (in the
//! record-batch byte form).

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::bindings::predicate::exports::sluice::connect::condition as wit_condition;
use crate::wit::{ConfigIssue, ConfigKey, ConnectRecord, PluginMetadata};
use crate::{Config, Result};

/// A predicate that decides whether a transform applies to a record, as
/// Kafka Connect's `Predicate`. `negate` is the host's business.
pub trait Predicate: Sized + 'static {
    /// Name, version, description and aliases (Kafka's class names, such as
    /// `org.apache.kafka.connect.transforms.predicates.HasHeaderKey`).
    fn metadata() -> PluginMetadata;

    /// The configuration keys, without the `predicates.<alias>.` prefix.
    fn config_keys() -> Vec<ConfigKey>;

    /// Checks beyond types and required keys, which the host already did.
    fn validate(_config: &Config) -> Vec<ConfigIssue> {
        Vec::new()
    }

    /// A predicate configured with its keys (prefix removed), as Kafka's
    /// `Predicate.configure`.
    fn create(config: Config) -> Result<Self>;

    /// Whether the record matches.
    fn test(&mut self, record: &ConnectRecord) -> bool;
}

/// The adapter [`crate::export_predicate!`] exports; not for direct use.
#[doc(hidden)]
pub struct Exports<P>(PhantomData<P>);

/// The exported `predicate-instance` resource.
#[doc(hidden)]
pub struct PredicateResource<P>(RefCell<P>);

impl<P: Predicate> wit_condition::Guest for Exports<P> {
    type PredicateInstance = PredicateResource<P>;

    fn metadata() -> PluginMetadata {
        P::metadata()
    }

    fn config_keys() -> Vec<ConfigKey> {
        P::config_keys()
    }

    fn validate(config: Vec<(String, String)>) -> Vec<ConfigIssue> {
        crate::log::report_panics();
        P::validate(&config.into())
    }
}

impl<P: Predicate> wit_condition::GuestPredicateInstance for PredicateResource<P> {
    fn create(config: Vec<(String, String)>) -> Result<wit_condition::PredicateInstance> {
        crate::log::report_panics();
        let predicate = P::create(config.into())?;
        Ok(wit_condition::PredicateInstance::new(PredicateResource(
            RefCell::new(predicate),
        )))
    }

    fn test(&self, batch: Vec<u8>) -> Vec<bool> {
        let mut predicate = self.0.borrow_mut();
        crate::wire::records(&batch)
            .map(|r| predicate.test(&r))
            .collect()
    }
}
