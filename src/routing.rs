//! Route tables that register themselves and can be listed: the authorization matrix test walks
//! exactly what the router serves, so a route added without an entry there fails it.

/// `(method, full path pattern)` of one registered route.
pub type RouteEntry = (&'static str, &'static str);

/// Declares `$list`, every (method, path) of the table, and `$build`, its resources in order
/// (one resource per path, so a wrong method gets 405 with `Allow`, not 404).
macro_rules! route_table {
    (
        $vis:vis const $list:ident, fn $build:ident, prefix $prefix:literal,
        { $( $path:literal => { $( $method:ident : $handler:path ),+ $(,)? } ),* $(,)? }
    ) => {
        $vis const $list: &[$crate::routing::RouteEntry] =
            &[ $( $( (stringify!($method), concat!($prefix, $path)), )+ )* ];

        fn $build() -> Vec<actix_web::Resource> {
            vec![ $( actix_web::web::resource($path) $( .route(actix_web::web::$method().to($handler)) )+ ),* ]
        }
    };
}

pub(crate) use route_table;

/// Refuses, before any handler, a request whose path or query string holds text that
/// `text::check` refuses (once percent-decoded): 400, as JSON on `/api`, as a page elsewhere.
/// Path ids and query parameters of every route, present and future, pass through here.
pub async fn refuse_unsafe_text(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    use crate::text::{check, percent_decoded, Lines};
    use actix_web::ResponseError;

    let uri = req.uri();
    let path_ok = check(&percent_decoded(uri.path()), Lines::Single).is_ok();
    let query_ok = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .all(|(key, value)| check(&key, Lines::Single).is_ok() && check(&value, Lines::Single).is_ok());
    if path_ok && query_ok {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let why = format!("The address holds a character that is not allowed. {}", crate::text::REFUSED);
    let response = if uri.path().starts_with("/api/") {
        crate::api::error::ApiError::bad_request(why).error_response()
    } else {
        crate::error::AppError::BadRequest(why).error_response()
    };
    Ok(req.into_response(response).map_into_right_body())
}
