//! Trap isolation: a plugin instance that trapped is dead and never called
//! again; the next call gets a fresh one, and a batch that trapped is split
//! until the records that trap on their own are found. Traps are described
//! for traces here too, naming a breached limit first.

use anyhow::{Result, bail};

use crate::runtime::limits::LimitExceeded;

/// A call on a batch: one output per item, or a trap.
pub type BatchCall<'a, T, I, O> = dyn FnMut(&mut T, &[I]) -> wasmtime::Result<Vec<O>> + 'a;

/// A plugin instance that is never reused after a trap: the next call gets
/// a fresh one.
pub struct Renewable<T> {
    instance: Option<T>,
    make: Box<dyn Fn() -> Result<T> + Send>,
}

impl<T> Renewable<T> {
    pub fn new(make: impl Fn() -> Result<T> + Send + 'static) -> Result<Self> {
        let instance = make()?;
        Ok(Renewable {
            instance: Some(instance),
            make: Box::new(make),
        })
    }

    fn get(&mut self) -> Result<&mut T> {
        if self.instance.is_none() {
            self.instance = Some((self.make)()?);
        }
        Ok(self.instance.as_mut().expect("just set"))
    }

    /// Calls `call` with `items`, which must answer one output per item.
    /// When the plugin traps, the instance is dropped and the items are
    /// halved until each trapping item is alone: it gets the trap's message
    /// as its error, and every other item its output. A batch with one
    /// poisonous record costs about 2·log2(n) calls. A trap on one of the
    /// task's limits (time, memory) is no record's fault: it fails the
    /// task instead, rather than paying the limit again for every half.
    pub fn call_isolating<I, O>(
        &mut self,
        items: &[I],
        call: &mut BatchCall<'_, T, I, O>,
    ) -> Result<Vec<Result<O, String>>> {
        let mut out = Vec::with_capacity(items.len());
        self.isolate(items, call, &mut out)?;
        Ok(out)
    }

    fn isolate<I, O>(
        &mut self,
        items: &[I],
        call: &mut BatchCall<'_, T, I, O>,
        out: &mut Vec<Result<O, String>>,
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        match call(self.get()?, items) {
            Ok(outputs) => {
                if outputs.len() != items.len() {
                    bail!(
                        "the plugin returned {} results for {} records",
                        outputs.len(),
                        items.len()
                    );
                }
                out.extend(outputs.into_iter().map(Ok));
            }
            Err(trap) if LimitExceeded::caused(&trap) => {
                self.instance = None;
                bail!("{}", describe_trap(&trap));
            }
            Err(trap) => {
                // A trapped instance is dead: never call it again.
                self.instance = None;
                if items.len() == 1 {
                    out.push(Err(describe_trap(&trap)));
                } else {
                    let (left, right) = items.split_at(items.len() / 2);
                    self.isolate(left, call, out)?;
                    self.isolate(right, call, out)?;
                }
            }
        }
        Ok(())
    }
}

/// A trap as the task's trace shows it: what stopped the plugin first (a
/// limit names itself and by how much it was exceeded), then where it was
/// (the wasm backtrace). The one limit wasmtime enforces alone, the stack,
/// is named here.
pub fn describe_trap(trap: &wasmtime::Error) -> String {
    if let Some(limit) = crate::runtime::limits::LimitExceeded::described(trap) {
        format!("{limit}\n{trap:?}")
    } else if trap.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::StackOverflow) {
        format!(
            "exceeded the stack limit: the plugin's call stack grew past the {} KiB a \
             WebAssembly call may use (runaway recursion?)\n{trap:?}",
            crate::runtime::MAX_WASM_STACK >> 10
        )
    } else {
        format!("{}\n{trap:?}", trap.root_cause())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake plugin that traps on any batch holding a poisonous item and
    /// doubles the others.
    struct Doubler;

    fn doubler() -> (Renewable<Doubler>, Arc<AtomicUsize>) {
        let made = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&made);
        let renewable = Renewable::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(Doubler)
        })
        .unwrap();
        (renewable, made)
    }

    fn double(_: &mut Doubler, items: &[i32]) -> wasmtime::Result<Vec<i32>> {
        if items.contains(&13) {
            wasmtime::bail!("unreachable executed");
        }
        Ok(items.iter().map(|i| i * 2).collect())
    }

    #[test]
    fn a_trapping_item_is_isolated_and_the_rest_go_through() {
        let (mut plugin, made) = doubler();
        let items: Vec<i32> = (0..100).collect();
        let out = plugin.call_isolating(&items, &mut double).unwrap();
        assert_eq!(out.len(), 100);
        for (i, result) in out.iter().enumerate() {
            if i == 13 {
                assert!(result.as_ref().unwrap_err().contains("unreachable"));
            } else {
                assert_eq!(result.as_ref().unwrap(), &(i as i32 * 2));
            }
        }
        // One instance per trap, never a trapped one reused: the first
        // instance, then a fresh one after each of the ~log2(100) traps.
        let instances = made.load(Ordering::SeqCst);
        assert!((7..=9).contains(&instances), "{instances} instances");
    }

    #[test]
    fn several_trapping_items_are_each_found() {
        let (mut plugin, _) = doubler();
        let items = vec![13, 1, 13, 2, 3, 13];
        let out = plugin.call_isolating(&items, &mut double).unwrap();
        let trapped: Vec<usize> = (0..items.len()).filter(|&i| out[i].is_err()).collect();
        assert_eq!(trapped, [0, 2, 5]);
        assert_eq!(out[3].as_ref().unwrap(), &4);
    }

    #[test]
    fn a_limit_breach_fails_the_call_instead_of_being_isolated() {
        let (mut plugin, made) = doubler();
        let items: Vec<i32> = (0..100).collect();
        let mut calls = 0;
        let err = plugin
            .call_isolating(&items, &mut |_, _| -> wasmtime::Result<Vec<i32>> {
                calls += 1;
                Err(LimitExceeded::trap(
                    "exceeded the call time limit: the call ran for 2.00 s".into(),
                ))
            })
            .unwrap_err();
        assert!(
            err.to_string().starts_with("exceeded the call time limit"),
            "{err}"
        );
        // Paid once, not once per half.
        assert_eq!(calls, 1);
        // The instance that breached is not reused.
        plugin.call_isolating(&[1], &mut double).unwrap();
        assert_eq!(made.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_wrong_number_of_results_fails() {
        let (mut plugin, _) = doubler();
        let err = plugin
            .call_isolating(&[1, 2], &mut |_, _| Ok(vec![1]))
            .unwrap_err();
        assert!(err.to_string().contains("1 results for 2 records"), "{err}");
    }
}
