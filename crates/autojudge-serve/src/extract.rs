//! The JSON body extractor: axum's `Json`, with every rejection (malformed JSON, a field of
//! the wrong type, a body over the size limit, no JSON content type) answered as an OpenAI
//! error body with its 4xx status instead of axum's plain text.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::Json;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// A JSON request body of type `T`.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(rejected(rejection)),
        }
    }
}

fn rejected(r: JsonRejection) -> ApiError {
    let status = r.status();
    let message = match &r {
        JsonRejection::JsonDataError(e) => format!("invalid request body: {}", e.body_text()),
        JsonRejection::JsonSyntaxError(e) => format!("malformed JSON: {}", e.body_text()),
        JsonRejection::MissingJsonContentType(_) => {
            "the body must be JSON (Content-Type: application/json)".into()
        }
        other => other.body_text(),
    };
    // axum answers a body of the wrong shape with 422; OpenAI's API answers 400.
    let status = if status == axum::http::StatusCode::UNPROCESSABLE_ENTITY {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        status
    };
    ApiError::body(status, message)
}
