//! Schemas listed once per batch: moving structured data between its
//! inline form (`data`, whose schema travels with each value) and the batch
//! form (`batch-data`, whose schema is an index into the batch's
//! `schemas`), for the host and the guest alike. [`wit_schema_table!`]
//! implements it for the types a crate's bindings generate.

/// Why a value subtree could not be copied: a node refers to one that is
/// missing or not after it (the order that rules out cycles).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeError(pub String);

impl std::fmt::Display for TreeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TreeError {}

/// How many of the last listed schemas a new one is compared with before
/// it is listed again: a batch has few shapes, mostly in runs, and a
/// producer with a new schema in every record must not cost a quadratic
/// number of comparisons.
pub const SHARED_SCHEMA_LOOKBACK: usize = 8;

/// The value nodes reachable from `root`, in ascending order, each once.
/// Children must come after their parent, as in every node list of the WIT.
pub fn reachable(
    len: usize,
    root: u32,
    children: impl Fn(usize) -> Vec<u32>,
) -> Result<Vec<usize>, TreeError> {
    let root = root as usize;
    if root >= len {
        return Err(TreeError(format!(
            "value node {root} is outside a list of {len}"
        )));
    }
    let mut seen = vec![false; len];
    let mut stack = vec![root];
    seen[root] = true;
    while let Some(node) = stack.pop() {
        for child in children(node) {
            let child = child as usize;
            if child <= node || child >= len {
                return Err(TreeError(format!(
                    "value node {node} refers to node {child}, which is not after it in a list \
                     of {len}"
                )));
            }
            if !std::mem::replace(&mut seen[child], true) {
                stack.push(child);
            }
        }
    }
    Ok((0..len).filter(|&i| seen[i]).collect())
}

/// Implements, for the WIT types in scope (`Data`, `Structured`,
/// `SchemaNode`, `ValueNode`, `BatchSchema`, `BatchStructured`,
/// `BatchData`):
///
/// - `share(data, &mut schemas) -> Result<BatchData, TreeError>`: inline data in batch form,
///   its schema found among the last listed `schemas` or listed anew;
/// - `inline(data, &schemas) -> Result<Data, TreeError>`: batch data with
///   its schema copied in, for code that works on one value at a time;
/// - `copy_value_tree(from, root, &mut to) -> Result<u32, TreeError>`: the
///   value subtree at `root` appended to `to`, renumbered.
///
/// A schema's default values live in the record's value list in the
/// inline form and in the schema's `defaults` in the batch form, so both
/// directions move them.
#[macro_export]
macro_rules! wit_schema_table {
    () => {
        /// Appends the value subtree of `from` at `root` to `to`, renumbered,
        /// and returns the index of its root there.
        #[allow(dead_code)]
        pub fn copy_value_tree(
            from: &[ValueNode],
            root: u32,
            to: &mut Vec<ValueNode>,
        ) -> Result<u32, $crate::shared::TreeError> {
            let nodes = $crate::shared::reachable(from.len(), root, |i| match &from[i] {
                ValueNode::Array(items) => items.clone(),
                ValueNode::Map(entries) => entries.iter().flat_map(|&(k, v)| [k, v]).collect(),
                ValueNode::Struct(fields) => fields.iter().map(|(_, c)| *c).collect(),
                _ => Vec::new(),
            })?;
            let base = to.len() as u32;
            let new_index = |old: u32| -> u32 {
                base + nodes.binary_search(&(old as usize)).expect("reachable") as u32
            };
            for &i in &nodes {
                to.push(match &from[i] {
                    ValueNode::Array(items) => {
                        ValueNode::Array(items.iter().map(|&c| new_index(c)).collect())
                    }
                    ValueNode::Map(entries) => ValueNode::Map(
                        entries
                            .iter()
                            .map(|&(k, v)| (new_index(k), new_index(v)))
                            .collect(),
                    ),
                    ValueNode::Struct(fields) => ValueNode::Struct(
                        fields
                            .iter()
                            .map(|(name, c)| (name.clone(), new_index(*c)))
                            .collect(),
                    ),
                    leaf => leaf.clone(),
                });
            }
            Ok(base)
        }

        /// `data` in batch form: its schema found among the last entries of
        /// `schemas` or added to them.
        #[allow(dead_code)]
        pub fn share(
            data: Data,
            schemas: &mut Vec<BatchSchema>,
        ) -> Result<BatchData, $crate::shared::TreeError> {
            let Structured { schema, values } = match data {
                Data::Raw(bytes) => return Ok(BatchData::Raw(bytes)),
                Data::Structured(structured) => structured,
            };
            if schema.is_empty() {
                return Ok(BatchData::Structured(BatchStructured {
                    schema: None,
                    values,
                }));
            }
            let mut nodes = schema;
            let mut defaults = Vec::new();
            for node in &mut nodes {
                if let Some(root) = node.default_value {
                    node.default_value = Some(copy_value_tree(&values, root, &mut defaults)?);
                }
            }
            let candidate = BatchSchema { nodes, defaults };
            let index = match schemas
                .iter()
                .enumerate()
                .rev()
                .take($crate::shared::SHARED_SCHEMA_LOOKBACK)
                .find(|(_, listed)| **listed == candidate)
            {
                Some((index, _)) => index,
                None => {
                    schemas.push(candidate);
                    schemas.len() - 1
                }
            };
            Ok(BatchData::Structured(BatchStructured {
                schema: Some(index as u32),
                values,
            }))
        }

        /// `data` in inline form, with a copy of its schema from `schemas`.
        #[allow(dead_code)]
        pub fn inline(
            data: BatchData,
            schemas: &[BatchSchema],
        ) -> Result<Data, $crate::shared::TreeError> {
            let BatchStructured { schema, mut values } = match data {
                BatchData::Raw(bytes) => return Ok(Data::Raw(bytes)),
                BatchData::Structured(structured) => structured,
            };
            let Some(index) = schema else {
                return Ok(Data::Structured(Structured {
                    schema: Vec::new(),
                    values,
                }));
            };
            let listed = schemas.get(index as usize).ok_or_else(|| {
                $crate::shared::TreeError(format!(
                    "the data refers to schema {index} of a batch that lists {}",
                    schemas.len()
                ))
            })?;
            let mut nodes = listed.nodes.clone();
            for node in &mut nodes {
                if let Some(root) = node.default_value {
                    node.default_value =
                        Some(copy_value_tree(&listed.defaults, root, &mut values)?);
                }
            }
            Ok(Data::Structured(Structured {
                schema: nodes,
                values,
            }))
        }
    };
}
