//! `mwindex-server` as a library: the routes of both APIs over shared
//! mwindex indexes, and the functions that turn what a client sends into
//! queries and windows. The binary (`main.rs`) serves them; the fuzz
//! targets call the same parsing functions the handlers do.
//!
//! - [`app`]: the router, authentication, the EV-charging routes and
//!   [`app::ev_query`] / [`app::ev_body`] (query string and body parsing).
//! - [`incident`]: the incident.io routes and [`incident::list_query`] /
//!   [`incident::item_body`].
//! - [`params`]: strict query strings. [`model`]: the items and their JSON.
//! - [`tenants`], [`demo`], [`import`], [`metrics`], [`openapi`], [`error`].

pub mod app;
pub mod demo;
pub mod error;
pub mod import;
pub mod incident;
pub mod metrics;
pub mod model;
pub mod openapi;
pub mod params;
pub mod tenants;
