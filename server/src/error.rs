//! Errors as the API answers them: a status and
//! `{"error":{"code":...,"message":...,"parameter":...}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The query parameter (or body field) at fault, if one is.
    pub parameter: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter: Option<&'a str>,
}

impl ApiError {
    /// 400 for a bad query parameter.
    pub fn parameter(name: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_parameter",
            message: format!("{name}: {}", message.into()),
            parameter: Some(name.to_string()),
        }
    }

    /// 401: no key, or a key no tenant holds.
    pub fn unauthorized(message: &str) -> Self {
        ApiError { status: StatusCode::UNAUTHORIZED, code: "unauthorized", message: message.into(), parameter: None }
    }

    /// An error of the given status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), parameter: None }
    }

    /// 404: no window of that id the key can see.
    pub fn not_found(id: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no maintenance window {id}"))
    }

    /// 403: the key cannot act for that organization.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 400 for a bad request body field.
    pub fn body(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_body",
            message: format!("{field}: {}", message.into()),
            parameter: Some(field.to_string()),
        }
    }

    /// A write the engine or its log refused.
    pub fn from_write(e: &mwindex::Error) -> Self {
        use mwindex::Error as E;
        match e {
            E::Io { .. } | E::Halted(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", format!("the write was not stored: {e}"))
            }
            E::CapacityExceeded(_) | E::RecordTooLarge { .. } => {
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "too_large", e.to_string())
            }
            other => ApiError::body("body", other.to_string()),
        }
    }

    /// The engine refused a query: always the client's doing (the engine
    /// never fails on its own), so a 400 naming the parameter involved.
    pub fn from_engine(e: &mwindex::Error) -> Self {
        use mwindex::Error as E;
        let parameter = match e {
            E::Cursor(_) => "nextPageCursor",
            E::InvalidPageSize { .. } => "pageSize",
            E::InvalidRange { .. } => "beforeTimestamp",
            E::InvalidTimestamp(_) => "afterTimestamp",
            _ => "query",
        };
        let code = match e {
            E::Cursor(_) => "invalid_cursor",
            _ => "invalid_parameter",
        };
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code,
            message: format!("{parameter}: {e}"),
            parameter: Some(parameter.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            Body { error: Inner { code: self.code, message: &self.message, parameter: self.parameter.as_deref() } };
        (self.status, Json(body)).into_response()
    }
}
