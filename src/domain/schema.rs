//! The members of a request type, read from the schema it documents: the parsers of both APIs
//! (and the CSV import) check their input against the description the OpenAPI document
//! publishes, so the two cannot drift apart.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayItems, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};

/// One member of an object schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub required: bool,
    pub kind: Kind,
    /// The strings allowed, for an enumeration.
    pub one_of: Option<Vec<String>>,
    /// The members of an object member.
    pub members: Vec<Member>,
    /// The most items a list member may have.
    pub max_items: Option<usize>,
}

/// The JSON type a member documents (`null` aside: whether it is accepted is the parser's call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Boolean,
    Object,
    StringList,
    /// Anything: the handler checks it.
    Any,
}

impl Kind {
    /// Whether `value` (not null) is of this type. Integers are those that fit an `i64`.
    pub fn admits(self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Integer => value.as_i64().is_some(),
            Self::Boolean => value.is_boolean(),
            Self::Object => value.is_object(),
            Self::StringList => value.as_array().is_some_and(|items| items.iter().all(Value::is_string)),
            Self::Any => true,
        }
    }

    /// The type, as error messages name it: "a string", "an integer"…
    pub fn described(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Integer => "an integer",
            Self::Boolean => "a boolean",
            Self::Object => "an object",
            Self::StringList => "a list of strings",
            Self::Any => "a value",
        }
    }
}

/// The members of `T`'s object schema, in declaration order: read from the schema once per
/// type, then shared (every request body is checked against them).
pub fn members<T: ToSchema + 'static>() -> Arc<[Member]> {
    static READ: LazyLock<RwLock<HashMap<TypeId, Arc<[Member]>>>> = LazyLock::new(RwLock::default);
    let id = TypeId::of::<T>();
    if let Some(members) = READ.read().unwrap_or_else(|e| e.into_inner()).get(&id) {
        return members.clone();
    }
    let mut components = Vec::new();
    T::schemas(&mut components);
    let schema = T::schema();
    let members: Arc<[Member]> =
        resolve(&schema, &components).map_or_else(Vec::new, |s| object_members(s, &components)).into();
    READ.write().unwrap_or_else(|e| e.into_inner()).insert(id, members.clone());
    members
}

fn object_members(schema: &Schema, components: &Components) -> Vec<Member> {
    let Schema::Object(object) = not_null(schema, components) else {
        return Vec::new();
    };
    object
        .properties
        .iter()
        .map(|(name, schema)| {
            let schema = resolve(schema, components);
            let kind = schema.map_or(Kind::Any, |s| kind(s, components));
            Member {
                name: name.clone(),
                required: object.required.contains(name),
                kind,
                one_of: schema.and_then(|s| enumeration(s, components)),
                members: match (kind, schema) {
                    (Kind::Object, Some(s)) => object_members(s, components),
                    _ => Vec::new(),
                },
                max_items: schema.and_then(|s| max_items(s, components)),
            }
        })
        .collect()
}

type Components = [(String, RefOr<Schema>)];

/// `schema`, or the component it refers to.
fn resolve<'a>(schema: &'a RefOr<Schema>, components: &'a Components) -> Option<&'a Schema> {
    match schema {
        RefOr::T(schema) => Some(schema),
        RefOr::Ref(reference) => {
            let name = reference.ref_location.rsplit('/').next()?;
            components.iter().find(|(n, _)| n == name).and_then(|(_, s)| resolve(s, components))
        }
    }
}

/// The one variant of a `oneOf` that is not `null` (how an optional reference is documented).
fn not_null<'a>(schema: &'a Schema, components: &'a Components) -> &'a Schema {
    if let Schema::OneOf(one_of) = schema {
        let mut variants = one_of.items.iter().filter_map(|s| resolve(s, components)).filter(|s| !is_null(s));
        if let (Some(only), None) = (variants.next(), variants.next()) {
            return only;
        }
    }
    schema
}

fn is_null(schema: &Schema) -> bool {
    matches!(schema, Schema::Object(o) if o.schema_type == SchemaType::Type(Type::Null))
}

/// The non-null type of a schema's `type` (`["string", "null"]` is a string).
fn single_type(schema_type: &SchemaType) -> Option<Type> {
    match schema_type {
        SchemaType::Type(t) => Some(t.clone()),
        SchemaType::Array(types) => {
            let mut other = types.iter().filter(|t| **t != Type::Null);
            match (other.next(), other.next()) {
                (Some(t), None) => Some(t.clone()),
                _ => None,
            }
        }
        SchemaType::AnyValue => None,
    }
}

fn kind(schema: &Schema, components: &Components) -> Kind {
    match not_null(schema, components) {
        Schema::Object(object) => match single_type(&object.schema_type) {
            Some(Type::String) => Kind::String,
            Some(Type::Integer) => Kind::Integer,
            Some(Type::Boolean) => Kind::Boolean,
            Some(Type::Object) if !object.properties.is_empty() => Kind::Object,
            _ => Kind::Any,
        },
        Schema::Array(array) => {
            let item = match &array.items {
                ArrayItems::RefOrSchema(item) => resolve(item, components),
                ArrayItems::False => None,
            };
            if item.is_some_and(|i| kind(i, components) == Kind::String) { Kind::StringList } else { Kind::Any }
        }
        _ => Kind::Any,
    }
}

fn max_items(schema: &Schema, components: &Components) -> Option<usize> {
    match not_null(schema, components) {
        Schema::Array(array) => array.max_items,
        _ => None,
    }
}

fn enumeration(schema: &Schema, components: &Components) -> Option<Vec<String>> {
    let Schema::Object(object) = not_null(schema, components) else { return None };
    let values = object.enum_values.as_ref()?;
    Some(values.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cti_profile::CtiProfileChanges;
    use crate::domain::status::StatusMessageChanges;

    #[test]
    fn members_follow_the_declared_schema() {
        let profile = members::<CtiProfileChanges>();
        let described: Vec<_> = profile.iter().map(|m| (m.name.as_str(), m.required, m.kind)).collect();
        assert_eq!(
            described,
            [
                ("view_statuses", false, Kind::String),
                ("change_statuses", false, Kind::String),
                ("name", false, Kind::String),
                ("allowed_statuses", false, Kind::StringList),
            ]
        );
        assert_eq!(profile[0].one_of, Some(vec!["all".to_string(), "self".to_string()]));
        assert_eq!(profile[2].one_of, None);
        let status = members::<StatusMessageChanges>();
        assert_eq!((status[0].name.as_str(), status[0].kind), ("can_have_date", Kind::Boolean));
    }

    #[test]
    fn kinds_admit_their_json_types() {
        use serde_json::json;
        assert!(Kind::Integer.admits(&json!(3)) && !Kind::Integer.admits(&json!(3.5)));
        assert!(!Kind::Integer.admits(&json!(u64::MAX)));
        assert!(Kind::StringList.admits(&json!(["a"])) && !Kind::StringList.admits(&json!(["a", 1])));
        assert!(Kind::Boolean.admits(&json!(false)) && !Kind::Boolean.admits(&json!("true")));
    }
}
