//! Reading a resource document a client sends into the checked values its model declares
//! ([`read_new`], [`read_changes`], [`read_relationship`]): that it is about the right type
//! and resource, that every member is one the resource has and that the client may write
//! now, that every required one is there, and that each value parses. Every problem is
//! reported, together, in the order of the document.

use super::resource::Resource;
use crate::jsonapi::ApiError;
use crate::jsonapi::error::{
    CLIENT_GENERATED_ID, ID_MISMATCH, MISSING_FIELD, READ_ONLY_FIELD, READ_ONLY_RELATIONSHIP,
    TYPE_MISMATCH, UNKNOWN_FIELD,
};
use crate::jsonapi::request::{Ident, Linkage, ResourceInput};
use crate::models::fields::{Create, FieldSpec, Inputs, Kind, Model, Reader};
use crate::parse::{Input, Parse};

/// What a document is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// POST to the collection: the server assigns the id.
    Create,
    /// PATCH of the resource with this id.
    Update(&'a str),
}

/// Checks `type` and `id` of the resource object against the endpoint.
pub fn check_identity(
    input: &ResourceInput,
    type_name: &str,
    target: Target,
) -> Result<(), ApiError> {
    if input.type_name != type_name {
        return Err(ApiError::new(
            &TYPE_MISMATCH,
            format!(
                "this endpoint takes resources of type {type_name:?}, the document has {:?}",
                input.type_name
            ),
        )
        .pointer("/data/type"));
    }
    match (target, &input.id) {
        (Target::Create, Some(_)) => Err(ApiError::new(
            &CLIENT_GENERATED_ID,
            format!("the server assigns ids to new {type_name}; leave \"id\" out"),
        )
        .pointer("/data/id")),
        (Target::Create, None) => Ok(()),
        (Target::Update(_), None) => Err(ApiError::invalid_document(
            "/data",
            "an update must name the resource: give \"id\" in /data",
        )),
        (Target::Update(id), Some(given)) if given != id => Err(ApiError::new(
            &ID_MISMATCH,
            format!("the URL is of {type_name} {id}, the document names id {given:?}"),
        )
        .pointer("/data/id")),
        (Target::Update(_), Some(_)) => Ok(()),
    }
}

/// The checked values of a create of an `R`.
pub fn read_new<R: Resource + Inputs>(input: &ResourceInput) -> Result<R::New, ApiError> {
    let mut reader = Document::<R>::scan(input, Target::Create);
    let new = R::read_new(&mut reader);
    reader.finish()?;
    Ok(new.expect("a create that could not be read recorded why"))
}

/// The checked values of an update of an `R`.
pub fn read_changes<R: Resource + Inputs>(
    input: &ResourceInput,
    id: &str,
) -> Result<R::Changes, ApiError> {
    let mut reader = Document::<R>::scan(input, Target::Update(id));
    let changes = R::read_changes(&mut reader);
    reader.finish()?;
    Ok(changes)
}

/// The change a relationship document asks for (`data` of to-one relationship `name`),
/// errors pointing where the same linkage stands in a resource document
/// (`/data/relationships/NAME/data`).
pub fn read_relationship<R: Resource + Inputs>(
    id: &str,
    name: &str,
    linkage: &Linkage,
) -> Result<R::Changes, ApiError> {
    if !R::FIELDS
        .iter()
        .any(|spec| spec.name == name && spec.is_relationship() && spec.access.update)
    {
        return Err(ApiError::new(
            &READ_ONLY_RELATIONSHIP,
            format!("the {name} of {} cannot be changed", R::TYPE),
        ));
    }
    let input = ResourceInput {
        type_name: R::TYPE.to_string(),
        id: Some(id.to_string()),
        lid: None,
        attributes: Vec::new(),
        relationships: vec![(name.to_string(), linkage.clone())],
        meta: Vec::new(),
    };
    read_changes::<R>(&input, id)
}

/// A member's value as the document gives it.
#[derive(Clone, Copy)]
enum Member<'a> {
    Attribute(&'a serde_json::value::RawValue),
    Relationship(&'a Linkage),
}

/// A resource document being read into a model's values.
struct Document<'a, R: Model> {
    input: &'a ResourceInput,
    target: Target<'a>,
    /// The members refused while scanning (their values are not read).
    refused: Vec<&'a str>,
    /// Every problem, with its place: the member's position in the document, or after them
    /// all for a missing member.
    problems: Vec<(usize, ApiError)>,
    _model: std::marker::PhantomData<R>,
}

impl<'a, R: Resource> Document<'a, R> {
    /// Refuses every member the resource does not have, or that clients may not write now.
    fn scan(input: &'a ResourceInput, target: Target<'a>) -> Document<'a, R> {
        let mut document = Document {
            input,
            target,
            refused: Vec::new(),
            problems: Vec::new(),
            _model: std::marker::PhantomData,
        };
        let attributes = input.attributes.iter().map(|(name, _)| (name, false));
        let relationships = input.relationships.iter().map(|(name, _)| (name, true));
        for (position, (name, is_relationship)) in attributes.chain(relationships).enumerate() {
            if let Some(problem) = document.refusal(name, is_relationship) {
                document.refused.push(name);
                document.problems.push((position, problem));
            }
        }
        document
    }

    /// Why member `name` cannot be written now, if it cannot.
    fn refusal(&self, name: &str, is_relationship: bool) -> Option<ApiError> {
        let pointer = pointer(name, is_relationship);
        if is_relationship && let Some(many) = R::TO_MANY.iter().find(|m| m.name == name) {
            return Some(read_only(
                pointer,
                format!("{name} cannot be written here: {}", many.doc),
            ));
        }
        let Some(spec) = R::FIELDS
            .iter()
            .find(|spec| spec.name == name && spec.is_relationship() == is_relationship)
            .filter(|spec| !spec.is_id())
        else {
            return Some(
                self.misplaced(name, is_relationship, &pointer)
                    .unwrap_or_else(|| self.unknown(pointer)),
            );
        };
        let access = spec.access;
        match self.target {
            _ if !access.writable() => Some(read_only(
                pointer,
                format!("{name} cannot be written: {}", spec.doc),
            )),
            Target::Create if access.create == Create::No => Some(read_only(
                pointer,
                format!("{name} is not given on create: {}", spec.doc),
            )),
            Target::Update(_) if !access.update => Some(read_only(
                pointer,
                format!("{name} cannot be changed once the resource exists"),
            )),
            _ => None,
        }
    }

    /// A member sent on the wrong side: a relationship among the attributes, or an
    /// attribute among the relationships, said where it goes and how.
    fn misplaced(&self, name: &str, is_relationship: bool, pointer: &str) -> Option<ApiError> {
        let of = R::TYPE;
        let detail = if !is_relationship && R::TO_MANY.iter().any(|many| many.name == name) {
            format!("{name} is a relationship of {of}, not an attribute, and is not written here")
        } else {
            let spec = R::FIELDS
                .iter()
                .find(|spec| spec.name == name && spec.is_relationship() != is_relationship)?;
            let identifier = |target| format!("{{\"type\": \"{target}\", \"id\": \"...\"}}");
            match spec.kind {
                Kind::ToOne(target) => format!(
                    "{name} is a relationship of {of}, not an attribute: send it as \
                     /data/relationships/{name}: {{\"data\": {}}}",
                    identifier(target)
                ),
                Kind::ToManyIds(target) => format!(
                    "{name} is a relationship of {of}, not an attribute: send it as \
                     /data/relationships/{name}: {{\"data\": [{}]}}",
                    identifier(target)
                ),
                _ => format!(
                    "{name} is an attribute of {of}, not a relationship: send its value as \
                     /data/attributes/{name}"
                ),
            }
        };
        Some(ApiError::new(&UNKNOWN_FIELD, detail).pointer(pointer.to_string()))
    }

    fn unknown(&self, pointer: String) -> ApiError {
        let name = pointer.rsplit('/').next().unwrap_or_default().to_string();
        let writable: Vec<&str> = R::FIELDS
            .iter()
            .filter(|spec| spec.access.writable())
            .map(|spec| spec.name)
            .collect();
        ApiError::new(
            &UNKNOWN_FIELD,
            format!(
                "{} have no {name:?}; writable: {}",
                R::TYPE,
                writable.join(", ")
            ),
        )
        .pointer(pointer)
    }

    /// The member declared as `spec`, if the document gives it (and it was not refused),
    /// with its position and where its value stands.
    fn member(&self, spec: &FieldSpec<R::Field>) -> Option<(usize, Member<'a>, String)> {
        if self.refused.contains(&spec.name) {
            return None;
        }
        if spec.is_relationship() {
            let (position, (_, linkage)) = self
                .input
                .relationships
                .iter()
                .enumerate()
                .find(|(_, (name, _))| name == spec.name)?;
            let at = format!("{}/data", pointer(spec.name, true));
            let position = self.input.attributes.len() + position;
            Some((position, Member::Relationship(linkage), at))
        } else {
            let (position, (_, raw)) = self
                .input
                .attributes
                .iter()
                .enumerate()
                .find(|(_, (name, _))| name == spec.name)?;
            Some((position, Member::Attribute(raw), pointer(spec.name, false)))
        }
    }

    /// Reads `field` into a `T`, recording its problem; `Ok(None)` when absent or refused.
    fn read<T: Parse>(&mut self, field: R::Field) -> Result<Option<T>, ()> {
        let spec = R::spec(field);
        let Some((position, member, at)) = self.member(spec) else {
            return Ok(None);
        };
        let ids: Vec<i64>;
        let input = match (member, spec.kind) {
            (Member::Attribute(raw), _) => Ok(Input::Attribute(raw)),
            (Member::Relationship(linkage), Kind::ToOne(target)) => {
                linked_id(linkage, target, &at, spec.nullable).map(Input::Link)
            }
            (Member::Relationship(linkage), Kind::ToManyIds(target)) => {
                match linked_ids(linkage, target, &at) {
                    Ok(found) => {
                        ids = found;
                        Ok(Input::Links(&ids))
                    }
                    Err(problem) => Err(problem),
                }
            }
            (Member::Relationship(_), _) => unreachable!("only relationships are relationships"),
        };
        let parsed = input
            .and_then(|input| T::parse(input).map_err(|why| ApiError::invalid_attribute(&at, why)));
        match parsed {
            Ok(value) => Ok(Some(value)),
            Err(problem) => {
                self.problems.push((position, problem));
                Err(())
            }
        }
    }

    /// All the problems met, or none.
    fn finish(mut self) -> Result<(), ApiError> {
        self.problems.sort_by_key(|(position, _)| *position);
        let mut problems = self.problems.into_iter().map(|(_, problem)| problem);
        match problems.next() {
            None => Ok(()),
            Some(first) => Err(ApiError::merge(first, problems)),
        }
    }
}

impl<R: Resource> Reader<R::Field> for Document<'_, R> {
    fn optional<T: Parse>(&mut self, field: R::Field) -> Option<T> {
        self.read(field).ok().flatten()
    }

    fn required<T: Parse>(&mut self, field: R::Field) -> Option<T> {
        match self.read(field) {
            Ok(Some(value)) => Some(value),
            Err(()) => None,
            Ok(None) => {
                let spec = R::spec(field);
                if !self.refused.contains(&spec.name) {
                    let at = if spec.is_relationship() {
                        "/data/relationships"
                    } else {
                        "/data/attributes"
                    };
                    let detail = format!(
                        "a {} needs {}: {}",
                        R::SINGULAR,
                        spec.name,
                        lowercase_first(spec.doc)
                    );
                    self.problems.push((
                        usize::MAX,
                        ApiError::new(&MISSING_FIELD, detail).pointer(at),
                    ));
                }
                None
            }
        }
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn pointer(name: &str, is_relationship: bool) -> String {
    if is_relationship {
        format!("/data/relationships/{name}")
    } else {
        format!("/data/attributes/{name}")
    }
}

/// A member the client may read but not write.
fn read_only(pointer: String, detail: impl Into<String>) -> ApiError {
    ApiError::new(&READ_ONLY_FIELD, detail).pointer(pointer)
}

/// The id of the resource of type `target` a to-one linkage (at `pointer`) names, `None` for
/// `null` where that is allowed. An array is refused, and an id that cannot exist is
/// answered as not found, like an id that does not exist.
pub fn linked_id(
    linkage: &Linkage,
    target: &str,
    pointer: &str,
    nullable: bool,
) -> Result<Option<i64>, ApiError> {
    let identifier = match linkage {
        Linkage::One(identifier) => identifier,
        Linkage::Null if nullable => return Ok(None),
        Linkage::Null => {
            return Err(ApiError::invalid_attribute(
                pointer,
                format!(
                    "this relationship is required; give {{\"type\": \"{target}\", \"id\": ...}}"
                ),
            ));
        }
        Linkage::Many(_) => {
            return Err(ApiError::invalid_document(
                pointer,
                "this is a to-one relationship: give one resource identifier, not an array",
            ));
        }
    };
    if identifier.type_name != target {
        return Err(ApiError::new(
            &TYPE_MISMATCH,
            format!(
                "this relationship holds resources of type {target:?}, the document gives {:?}",
                identifier.type_name
            ),
        )
        .pointer(format!("{pointer}/type")));
    }
    let id = match &identifier.id {
        Ident::Id(id) => id,
        Ident::Lid(_) => {
            return Err(ApiError::invalid_document(
                &format!("{pointer}/lid"),
                LOCAL_IDS_ONLY_IN_OPERATIONS,
            ));
        }
    };
    let not_found = |id: &str| {
        super::registered(target)
            .map_or_else(
                || ApiError::not_found(format!("there is no {target} {id:?}")),
                |r| (r.not_found)(id),
            )
            .pointer(pointer)
    };
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(Some)
        .ok_or_else(|| not_found(id))
}

/// The ids of the resources of type `target` a to-many linkage (at `pointer`) names, each
/// once, in the order given.
pub fn linked_ids(linkage: &Linkage, target: &str, pointer: &str) -> Result<Vec<i64>, ApiError> {
    let Linkage::Many(identifiers) = linkage else {
        return Err(ApiError::invalid_document(
            pointer,
            "this is a to-many relationship: give an array of resource identifiers",
        ));
    };
    let mut ids = Vec::with_capacity(identifiers.len());
    for (i, identifier) in identifiers.iter().enumerate() {
        let one = Linkage::One(identifier.clone());
        let id = linked_id(&one, target, &format!("{pointer}/{i}"), false)?
            .expect("a to-one linkage of one identifier");
        if ids.contains(&id) {
            return Err(ApiError::invalid_document(
                &format!("{pointer}/{i}"),
                format!("{target} {id} is named twice"),
            ));
        }
        ids.push(id);
    }
    Ok(ids)
}

const LOCAL_IDS_ONLY_IN_OPERATIONS: &str = "a local id (lid) names a resource created earlier in \
     the same request: only in POST /operations; here, give \"id\"";

/// Where `pointer`, written for a resource document (where the linkage of relationship
/// `name` stands at `/data/relationships/NAME/data`), points in a relationship document: the
/// linkage is its `data`, and any other member the change touched is reached through it.
pub fn linkage_pointer(pointer: &str, name: &str) -> String {
    let in_resource = format!("/data/relationships/{name}/data");
    match pointer.strip_prefix(&in_resource) {
        Some(rest) => format!("/data{rest}"),
        None if pointer.starts_with("/data") => "/data".to_string(),
        None => pointer.to_string(),
    }
}
