//! A plugin's own keys in a configuration, checked against what the plugin
//! declares (`config-keys`): the connector's keys, and those of each
//! converter, transform and predicate under its prefix.

use std::collections::BTreeMap;

use crate::configdef::{ConfigError, suggest};
use crate::plugin::kind::type_name;
use crate::runtime::bindings::types::{ConfigKey, ConfigType};

/// Checks a plugin's keys in `config` (prefix removed; errors name the key
/// with `prefix`): required keys present, values of the declared type, no
/// key the plugin does not know.
pub fn check_plugin_keys(
    prefix: &str,
    config: &BTreeMap<String, String>,
    plugin_keys: &[ConfigKey],
    errors: &mut Vec<ConfigError>,
) {
    for key in config.keys() {
        if !plugin_keys.iter().any(|k| &k.name == key) {
            let known: Vec<&str> = plugin_keys.iter().map(|k| k.name.as_str()).collect();
            errors.push(ConfigError::UnknownKey {
                key: format!("{prefix}{key}"),
                hint: suggest(key, &known),
            });
        }
    }
    for spec in plugin_keys {
        let name = format!("{prefix}{}", spec.name);
        match config.get(&spec.name) {
            None if spec.required && spec.default_value.is_none() => {
                errors.push(ConfigError::Missing(name))
            }
            None => {}
            Some(value) => {
                if let Err(reason) = check_type(spec.type_, value) {
                    errors.push(ConfigError::invalid(&name, value, reason));
                } else if spec.required && value.trim().is_empty() {
                    errors.push(ConfigError::Missing(name));
                }
            }
        }
    }
}

fn check_type(type_: ConfigType, value: &str) -> Result<(), String> {
    let v = value.trim();
    let ok = match type_ {
        ConfigType::Int => v.parse::<i32>().is_ok(),
        ConfigType::Long => v.parse::<i64>().is_ok(),
        ConfigType::Double => v.parse::<f64>().is_ok(),
        ConfigType::Boolean => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        ConfigType::String | ConfigType::List | ConfigType::Password | ConfigType::Class => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected a value of type {}", type_name(type_)))
    }
}
