//! `#[derive(Model)]` and `#[derive(SqlEnum)]` for dualdb. See `dualdb::Model`
//! and `dualdb::SqlEnum` for the attributes.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, LitStr, parse_macro_input, spanned::Spanned};

mod migrations;

/// `#[dualdb::test]`: a test given a fresh, migrated database. See
/// `dualdb::test`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as syn::ItemFn);
    let mut folder: Option<LitStr> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("migrations") {
            folder = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error("expected `migrations = \"folder\"`"))
        }
    });
    parse_macro_input!(args with parser);
    if item.sig.inputs.len() != 1 {
        return syn::Error::new(
            item.sig.inputs.span(),
            "a #[dualdb::test] function takes one argument, the database (`db: &dualdb::Database`)",
        )
        .to_compile_error()
        .into();
    }
    let krate = quote!(::dualdb);
    let migrator = match folder {
        Some(f) => quote!(#krate::migrate!(#f)),
        None => quote!(#krate::migrate::Migrator::new(&[])),
    };
    let (attrs, vis, name) = (&item.attrs, &item.vis, &item.sig.ident);
    let output = &item.sig.output;
    let mut inner = item.clone();
    inner.attrs.clear();
    inner.vis = syn::Visibility::Inherited;
    inner.sig.ident = format_ident!("__dualdb_test_body");
    let run = match item.sig.asyncness {
        Some(_) => quote!(#krate::__private::test_runtime()
            .unwrap_or_else(|e| ::core::panic!("a Tokio runtime for the test: {e}"))
            .block_on(__dualdb_test_body(&__db))),
        None => quote!(__dualdb_test_body(&__db)),
    };
    quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() #output {
            #inner
            static __MIGRATOR: #krate::migrate::Migrator = #migrator;
            let __db = #krate::testing::TestDb::new(&__MIGRATOR)
                .unwrap_or_else(|e| ::core::panic!("a fresh test database: {e}"));
            #run
        }
    }
    .into()
}

/// `migrate!("migrations")`: the folder's migration files (relative to the
/// crate's `Cargo.toml`) as a `dualdb::migrate::Migrator`, their texts
/// embedded; `migrate!("migrations", rust = [(3, "backfill", up_fn)])` adds
/// Rust migrations (`(version, "name", up[, down])`). See `dualdb::migrate!`.
#[proc_macro]
pub fn migrate(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as migrations::Input);
    match migrations::expand(input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Derives `dualdb::Model` for a struct with named fields.
///
/// Struct attributes: `#[model(table = "name")]` (default: the struct name in
/// snake case); `#[model(primary_key(a, b))]`: a composite primary key of
/// those fields, in that order.
///
/// Field attributes, inside `#[model(...)]`:
/// - `primary_key`: the primary key (default: a field named `id`); on two
///   or more fields, a composite key of them in field order;
/// - `auto`: the database generates the key (auto-increment) of a row that
///   leaves it unset (0, `None`, the nil UUID); a row that gives it any
///   other value is stored with that key, as in peewee (a key of one column
///   only);
/// - `unique`;
/// - `max_length = N`: `VARCHAR(N)` instead of `TEXT`;
/// - `default = "SQL"`: the column's SQL default in `CREATE TABLE`;
/// - `references = OtherModel`: a foreign key to `OtherModel`'s primary key;
///   when that key has N columns, the fields referencing `OtherModel`, in
///   field order, N at a time, make foreign keys of N columns;
/// - `column = "name"`: the column name (default: the field name).
///
/// `Option<T>` fields are nullable.
///
/// A model is plain data: an insert moves its fields' values into the
/// statement without copying them, so a struct that implements `Drop`
/// cannot derive `Model` (keep such a value in a field of its own type; see
/// `dualdb::Model`).
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct FieldSpec {
    ident: syn::Ident,
    ty: syn::Type,
    column: String,
    primary_key: bool,
    auto: bool,
    unique: bool,
    max_length: Option<u32>,
    default: Option<String>,
    references: Option<syn::Path>,
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn expand(input: DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(Model)] does not support generic structs",
        ));
    }
    let mut table = snake_case(&name.to_string());
    let mut key_list: Option<Vec<syn::Ident>> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("model")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table") {
                table = meta.value()?.parse::<LitStr>()?.value();
                Ok(())
            } else if meta.path.is_ident("primary_key") {
                let mut names = Vec::new();
                meta.parse_nested_meta(|field| {
                    names.push(field.path.require_ident()?.clone());
                    Ok(())
                })?;
                key_list = Some(names);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown model attribute; expected `table = \"...\"` or `primary_key(a, b)`",
                ))
            }
        })?;
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.span(),
            "#[derive(Model)] needs a struct",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new(
            data.fields.span(),
            "#[derive(Model)] needs named fields",
        ));
    };

    let mut fields = Vec::new();
    for f in &named.named {
        let ident = f.ident.clone().expect("named field");
        let mut spec = FieldSpec {
            column: ident.to_string().trim_start_matches("r#").to_string(),
            ident,
            ty: f.ty.clone(),
            primary_key: false,
            auto: false,
            unique: false,
            max_length: None,
            default: None,
            references: None,
        };
        for attr in f.attrs.iter().filter(|a| a.path().is_ident("model")) {
            attr.parse_nested_meta(|meta| {
                let p = &meta.path;
                if p.is_ident("primary_key") {
                    spec.primary_key = true;
                } else if p.is_ident("auto") {
                    spec.auto = true;
                } else if p.is_ident("unique") {
                    spec.unique = true;
                } else if p.is_ident("max_length") {
                    spec.max_length = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?);
                } else if p.is_ident("default") {
                    spec.default = Some(meta.value()?.parse::<LitStr>()?.value());
                } else if p.is_ident("references") {
                    spec.references = Some(meta.value()?.parse::<syn::Path>()?);
                } else if p.is_ident("column") {
                    spec.column = meta.value()?.parse::<LitStr>()?.value();
                } else {
                    return Err(meta.error(
                        "unknown field attribute; expected primary_key, auto, unique, \
                         max_length, default, references or column",
                    ));
                }
                Ok(())
            })?;
        }
        fields.push(spec);
    }

    let explicit: Vec<usize> = (0..fields.len())
        .filter(|&i| fields[i].primary_key)
        .collect();
    let key: Vec<usize> = match (key_list, explicit.as_slice()) {
        (Some(list), []) => {
            let mut key = Vec::new();
            for ident in &list {
                let Some(i) = fields.iter().position(|f| f.ident == *ident) else {
                    return Err(syn::Error::new(
                        ident.span(),
                        format!("no field `{ident}` in this struct"),
                    ));
                };
                if key.contains(&i) {
                    return Err(syn::Error::new(ident.span(), "named twice in the key"));
                }
                fields[i].primary_key = true;
                key.push(i);
            }
            if key.is_empty() {
                return Err(syn::Error::new(
                    name.span(),
                    "`primary_key()` names no field",
                ));
            }
            key
        }
        (Some(_), [first, ..]) => {
            return Err(syn::Error::new(
                fields[*first].ident.span(),
                "the key is named on the struct already (`#[model(primary_key(...))]`)",
            ));
        }
        (None, []) => match fields.iter().position(|f| f.column == "id") {
            Some(i) => {
                fields[i].primary_key = true;
                vec![i]
            }
            None => {
                return Err(syn::Error::new(
                    name.span(),
                    "no primary key: mark a field #[model(primary_key)] or name it `id`",
                ));
            }
        },
        (None, explicit) => explicit.to_vec(),
    };
    if let Some(f) = fields.iter().find(|f| f.auto && !f.primary_key) {
        return Err(syn::Error::new(
            f.ident.span(),
            "`auto` is only for the primary key",
        ));
    }
    if let Some(f) = fields.iter().find(|f| f.auto && key.len() > 1) {
        return Err(syn::Error::new(
            f.ident.span(),
            "`auto` is for a key of one column; a composite key's values are given",
        ));
    }
    let pk = key[0];

    let krate = quote!(::dualdb);
    let column_metas = fields.iter().map(|f| {
        let ty = &f.ty;
        let column = &f.column;
        let (primary_key, auto, unique) = (f.primary_key, f.auto, f.unique);
        let max_length = match f.max_length {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        let default = match &f.default {
            Some(d) => quote!(::core::option::Option::Some(#d)),
            None => quote!(::core::option::Option::None),
        };
        let references = match &f.references {
            Some(path) => quote!(::core::option::Option::Some(
                || <#path as #krate::Model>::META
            )),
            None => quote!(::core::option::Option::None),
        };
        quote! {
            #krate::model::ColumnMeta {
                name: #column,
                kind: <#ty as #krate::model::ColumnType>::KIND,
                nullable: <#ty as #krate::model::ColumnType>::NULLABLE,
                primary_key: #primary_key,
                auto_increment: #auto,
                unique: #unique,
                max_length: #max_length,
                default: #default,
                references: #references,
            }
        }
    });
    let from_row = fields.iter().enumerate().map(|(i, f)| {
        let ident = &f.ident;
        quote!(#ident: row.get(#krate::model::column_at(row, offset, #i, Self::META)?)?)
    });
    let from_row_in = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let ident = &f.ident;
            quote!(#ident: #krate::row::RowRead::take(row, columns.at(#i))?)
        })
        .collect::<Vec<_>>();
    // `read_in`'s fields: an error returns at once, with no closure between
    // the reads and the caller (see `read_in` below).
    let read_in = fields.iter().enumerate().map(|(i, f)| {
        let ident = &f.ident;
        quote!(#ident: match #krate::row::RowRead::take(row, columns.at(#i)) {
            ::core::result::Result::Ok(v) => v,
            ::core::result::Result::Err(e) => {
                return ::core::option::Option::Some(::core::result::Result::Err(e))
            }
        })
    });
    let values = fields.iter().map(|f| {
        let ident = &f.ident;
        quote!(#krate::ToSql::to_sql(&self.#ident))
    });
    // A generated key is not written (`InsertMany::columns`); the other
    // fields move out of the model.
    let insert_values = fields
        .iter()
        .filter(|f| !(f.primary_key && f.auto))
        .map(|f| {
            let ident = &f.ident;
            quote!(out.push(#krate::ToSql::into_sql(self.#ident)))
        });
    let value_arms = fields.iter().enumerate().map(|(i, f)| {
        let ident = &f.ident;
        quote!(#i => #krate::ToSql::to_sql(&self.#ident))
    });
    let pk_ident = &fields[pk].ident;
    let consts = fields.iter().enumerate().map(|(i, f)| {
        let ty = &f.ty;
        let column = &f.column;
        let const_name = format_ident!(
            "{}",
            f.ident.to_string().trim_start_matches("r#").to_uppercase(),
            span = Span::call_site()
        );
        let doc = format!("The `{column}` column.");
        quote! {
            #[doc = #doc]
            pub const #const_name: #krate::Column<#name, #ty> = #krate::Column::new(#i, #column);
        }
    });
    let n = fields.len();
    // Fields referencing a model with a key of N columns make foreign keys
    // N at a time: a group left short is refused here, at compile time.
    let mut targets: Vec<(String, syn::Path, usize)> = Vec::new();
    for path in fields.iter().filter_map(|f| f.references.as_ref()) {
        let shown = quote!(#path).to_string();
        match targets.iter_mut().find(|(s, _, _)| *s == shown) {
            Some((_, _, count)) => *count += 1,
            None => targets.push((shown, path.clone(), 1)),
        }
    }
    let group_checks = targets.iter().map(|(shown, path, count)| {
        let path = match path.is_ident("Self") {
            true => quote!(#name),
            false => quote!(#path),
        };
        let why = format!(
            "{name}: {count} field(s) reference {shown}; fields referencing a model make \
             whole foreign keys to its key, as many as its key has columns, in field order"
        );
        quote! {
            const _: () = ::core::assert!(
                #count % <#path as #krate::Model>::META.key.len() == 0,
                #why
            );
        }
    });

    Ok(quote! {
        #(#group_checks)*

        impl #krate::Model for #name {
            const META: &'static #krate::model::ModelMeta = &#krate::model::ModelMeta {
                name: ::core::stringify!(#name),
                table: #table,
                columns: &[#(#column_metas),*],
                key: &[#(#key),*],
            };

            fn from_row_at(row: &#krate::Row, offset: usize) -> #krate::Result<Self> {
                ::core::result::Result::Ok(#name { #(#from_row),* })
            }

            fn from_row_in(
                row: &mut #krate::Row,
                columns: &#krate::model::Columns,
            ) -> #krate::Result<Self> {
                ::core::result::Result::Ok(#name { #(#from_row_in),* })
            }

            // The same fields as `from_row_in`, through any `RowRead`: the
            // driver's own row (PostgreSQL, MySQL) and SQLite's row in place.
            // `from_row_in` over `Row` still serves SQLite's copied rows.
            // Built in its caller: a model returned from a call of its own is
            // written a field at a time and then copied by wider loads, which
            // wait for those stores (benches/paired, the `fold` and `stream`
            // workloads).
            #[inline(always)]
            fn read_in<__DualdbRow: #krate::row::RowRead>(
                row: &mut __DualdbRow,
                columns: &#krate::model::Columns,
            ) -> ::core::option::Option<#krate::Result<Self>> {
                ::core::option::Option::Some(::core::result::Result::Ok(#name { #(#read_in),* }))
            }

            fn built_selects() -> &'static [#krate::model::BuiltSql] {
                static BUILT: [#krate::model::BuiltSql; #krate::model::select_slots(#n)] =
                    [const { #krate::model::BuiltSql::new() }; #krate::model::select_slots(#n)];
                &BUILT
            }

            fn values(&self) -> ::std::vec::Vec<#krate::Value> {
                let mut out = ::std::vec::Vec::with_capacity(#n);
                #(out.push(#values);)*
                out
            }

            fn insert_values(self, out: &mut ::std::vec::Vec<#krate::Value>) {
                #(#insert_values;)*
            }

            fn value(&self, column: usize) -> #krate::Value {
                match column {
                    #(#value_arms,)*
                    _ => #krate::Value::Null,
                }
            }

            fn set_primary_key(&mut self, value: #krate::ValueRef<'_>) -> #krate::Result<()> {
                self.#pk_ident = #krate::FromSql::from_sql(value)?;
                ::core::result::Result::Ok(())
            }
        }

        impl #name {
            #(#consts)*
        }

        #krate::model::register!(#name);
    })
}

/// Derives `dualdb::ToSql`, `dualdb::FromSql` and the model column type for
/// an enum of unit variants, stored as text: each variant's name in snake
/// case, or `#[sql(rename = "…")]`. The text fits a `TEXT` column, a MySQL
/// `ENUM` and a PostgreSQL enum type alike.
#[proc_macro_derive(SqlEnum, attributes(sql))]
pub fn derive_sql_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand_enum(input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_enum(input: DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            input.span(),
            "#[derive(SqlEnum)] needs an enum",
        ));
    };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(SqlEnum)] does not support generic enums",
        ));
    }
    if data.variants.is_empty() {
        return Err(syn::Error::new(
            name.span(),
            "#[derive(SqlEnum)] needs at least one variant",
        ));
    }
    let mut idents = Vec::new();
    let mut texts = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(syn::Error::new(
                v.span(),
                "#[derive(SqlEnum)] variants cannot have fields",
            ));
        }
        let mut text = snake_case(&v.ident.to_string());
        for attr in v.attrs.iter().filter(|a| a.path().is_ident("sql")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    text = meta.value()?.parse::<LitStr>()?.value();
                    Ok(())
                } else {
                    Err(meta.error("unknown variant attribute; expected `rename = \"...\"`"))
                }
            })?;
        }
        if texts.contains(&text) {
            return Err(syn::Error::new(
                v.ident.span(),
                format!("two variants are stored as {text:?}"),
            ));
        }
        idents.push(v.ident.clone());
        texts.push(text);
    }
    let krate = quote!(::dualdb);
    let expected = texts.join(", ");
    Ok(quote! {
        impl #name {
            /// The text each variant is stored as, in declaration order.
            pub const SQL_NAMES: &'static [&'static str] = &[#(#texts),*];

            /// The text this variant is stored as.
            pub fn as_sql_str(&self) -> &'static str {
                match self {
                    #(#name::#idents => #texts,)*
                }
            }
        }

        impl #krate::ToSql for #name {
            fn to_sql(&self) -> #krate::Value {
                #krate::Value::Text(::std::string::String::from(self.as_sql_str()))
            }
        }

        impl #krate::FromSql for #name {
            fn from_sql(value: #krate::ValueRef<'_>) -> #krate::Result<Self> {
                let text = <::std::string::String as #krate::FromSql>::from_sql(value)?;
                match text.as_str() {
                    #(#texts => ::core::result::Result::Ok(#name::#idents),)*
                    other => ::core::result::Result::Err(#krate::Error::new(
                        #krate::ErrorKind::Decode,
                        ::std::format!(
                            "{:?} is not a {} (expected one of: {})",
                            other,
                            ::core::stringify!(#name),
                            #expected
                        ),
                    )),
                }
            }
        }

        impl #krate::model::ColumnType for #name {
            const KIND: #krate::model::ColumnKind = #krate::model::ColumnKind::Enum;
        }
    })
}

/// Derives `dualdb::FromRow` for a struct: a struct with named fields reads
/// each field from the column of its name, a tuple struct its fields from
/// the columns in order. See `dualdb::FromRow` for the attributes.
///
/// Field attributes, inside `#[row(...)]`:
/// - `rename = "column"`: the column's name (default: the field's);
/// - `default`: `Default::default()` where the row has no such column;
/// - `flatten`: the field is itself `FromRow`, read from the same row.
///
/// `Option<T>` fields take NULL as `None`.
#[proc_macro_derive(FromRow, attributes(row))]
pub fn derive_from_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand_from_row(input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// How a field of a `FromRow` struct is read.
enum RowField {
    Column { name: String, default: bool },
    Flatten,
}

fn row_field(f: &syn::Field) -> syn::Result<RowField> {
    let mut name = f
        .ident
        .as_ref()
        .map(|i| i.to_string().trim_start_matches("r#").to_string());
    let (mut default, mut flatten) = (false, false);
    for attr in f.attrs.iter().filter(|a| a.path().is_ident("row")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                name = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("default") {
                default = true;
            } else if meta.path.is_ident("flatten") {
                flatten = true;
            } else {
                return Err(meta.error(
                    "unknown row attribute; expected `rename = \"...\"`, `default` or `flatten`",
                ));
            }
            Ok(())
        })?;
    }
    match (flatten, name) {
        (true, _) if default => Err(syn::Error::new(
            f.span(),
            "#[row(flatten)] and #[row(default)] do not go together",
        )),
        (true, _) => Ok(RowField::Flatten),
        (false, Some(name)) => Ok(RowField::Column { name, default }),
        (false, None) if default => Err(syn::Error::new(
            f.span(),
            "#[row(default)] needs a named field (a column to look for)",
        )),
        (false, None) => Ok(RowField::Column {
            name: String::new(),
            default: false,
        }),
    }
}

fn expand_from_row(input: DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(FromRow)] does not support generic structs",
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.span(),
            "#[derive(FromRow)] needs a struct",
        ));
    };
    let struct_name = name.to_string();
    let mut reads = Vec::new();
    // `from_row_mut`'s: a named field at its place is taken, not copied.
    let mut takes = Vec::new();
    for (i, f) in data.fields.iter().enumerate() {
        let ty = &f.ty;
        let field_name = f
            .ident
            .as_ref()
            .map_or_else(|| i.to_string(), |i| i.to_string());
        let spec = row_field(f)?;
        let take = match &spec {
            RowField::Column {
                name,
                default: false,
            } if f.ident.is_some() => Some(quote! {
                ::dualdb::__private::take_named::<#ty>(row, #name, #i, #struct_name, #field_name)?
            }),
            _ => None,
        };
        let read = match spec {
            RowField::Flatten => quote! {
                ::dualdb::__private::flattened::<#ty>(row, #struct_name, #field_name)?
            },
            RowField::Column {
                name,
                default: true,
            } => quote! {
                ::dualdb::__private::column_or_default::<#ty>(row, #name, #struct_name, #field_name)?
            },
            RowField::Column { name, .. } if f.ident.is_some() => quote! {
                ::dualdb::__private::column_named::<#ty>(row, #name, #i, #struct_name, #field_name)?
            },
            RowField::Column { .. } => quote! {
                ::dualdb::__private::column::<#ty, usize>(row, #i, #struct_name, #field_name)?
            },
        };
        let take = take.unwrap_or_else(|| read.clone());
        match &f.ident {
            Some(ident) => {
                reads.push(quote! { #ident: #read });
                takes.push(quote! { #ident: #take });
            }
            None => {
                reads.push(read);
                takes.push(take);
            }
        }
    }
    let build = |fields: &[TokenStream2]| match &data.fields {
        Fields::Named(_) => quote! { #name { #(#fields),* } },
        Fields::Unnamed(_) => quote! { #name ( #(#fields),* ) },
        Fields::Unit => quote! { #name },
    };
    // A flattened field may read a column another field reads too, and so
    // may two fields of one name: then every column is read, none taken.
    let mut names = Vec::new();
    let mut shared = false;
    for f in &data.fields {
        match row_field(f)? {
            RowField::Flatten => shared = true,
            RowField::Column { name, .. } => {
                shared |= names.contains(&name);
                names.push(name);
            }
        }
    }
    let takes = if shared { &reads } else { &takes };
    let (body, body_mut) = (build(&reads), build(takes));
    // A struct of plain named fields (no `default`, no `flatten`) can be read
    // by position from a row whose names were checked once.
    let mut in_order = Vec::new();
    let mut ordered = Vec::new();
    for (i, f) in data.fields.iter().enumerate() {
        match (&f.ident, row_field(f)?) {
            (
                Some(ident),
                RowField::Column {
                    name,
                    default: false,
                },
            ) => {
                let ty = &f.ty;
                let field_name = ident.to_string();
                ordered.push(quote! {
                    #ident: ::dualdb::__private::take_at::<#ty, __DualdbRow>(row, #i, #name, #struct_name, #field_name)?
                });
                in_order.push(name);
            }
            _ => {
                in_order.clear();
                break;
            }
        }
    }
    let in_order = (!in_order.is_empty()).then(|| {
        quote! {
            const IN_ORDER: ::std::option::Option<&'static [&'static str]> =
                ::std::option::Option::Some(&[#(#in_order),*]);
            fn read_in_order<__DualdbRow: ::dualdb::__private::RowRead>(row: &mut __DualdbRow) -> ::dualdb::Result<Self> {
                ::std::result::Result::Ok(#name { #(#ordered),* })
            }
        }
    });
    Ok(quote! {
        impl ::dualdb::FromRow for #name {
            fn from_row(row: &::dualdb::Row) -> ::dualdb::Result<Self> {
                ::std::result::Result::Ok(#body)
            }
            fn from_row_mut(row: &mut ::dualdb::Row) -> ::dualdb::Result<Self> {
                ::std::result::Result::Ok(#body_mut)
            }
            #in_order
        }
    })
}
