//! Query strings, strictly: every parameter known to the route, single
//! values given once, no empty value, at most [`MAX_IDS`] values in an id
//! filter.

use crate::error::ApiError;

/// Most values one id filter may list.
pub const MAX_IDS: usize = 500;

/// A route's query string, decoded.
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes `raw` and checks that every name is one of `known`.
    pub fn parse(raw: Option<&str>, known: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (k, _) in &pairs {
            if !known.contains(&k.as_str()) {
                return Err(ApiError::parameter(k, format!("unknown parameter (known: {})", known.join(", "))));
            }
        }
        Ok(Params { pairs })
    }

    fn all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A parameter that may appear once, with a non-empty value.
    pub fn single(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.all(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::parameter(name, "given more than once"));
        }
        match first {
            Some("") => Err(ApiError::parameter(name, "empty value")),
            other => Ok(other),
        }
    }

    /// A repeatable id parameter: each value a non-negative integer, at most
    /// [`MAX_IDS`] of them; `None` if absent.
    pub fn ids(&self, name: &str) -> Result<Option<Vec<u64>>, ApiError> {
        let values: Vec<&str> = self.all(name).collect();
        if values.is_empty() {
            return Ok(None);
        }
        if values.len() > MAX_IDS {
            return Err(ApiError::parameter(name, format!("{} values, at most {MAX_IDS} allowed", values.len())));
        }
        values
            .iter()
            .map(|v| {
                if v.is_empty() {
                    return Err(ApiError::parameter(name, "empty value"));
                }
                v.parse::<u64>().map_err(|_| ApiError::parameter(name, format!("{v:?} is not an integer id")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A timestamp parameter (RFC 3339 / ISO 8601).
    pub fn timestamp(&self, name: &str) -> Result<Option<mwindex::Timestamp>, ApiError> {
        self.single(name)?
            .map(|v| v.parse::<mwindex::Timestamp>().map_err(|e| ApiError::parameter(name, e.to_string())))
            .transpose()
    }

    /// A page size in `1..=50`.
    pub fn page_size(&self, name: &str, default: usize) -> Result<usize, ApiError> {
        match self.single(name)? {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=mwindex::MAX_PAGE_SIZE).contains(&n) => Ok(n),
                _ => Err(ApiError::parameter(
                    name,
                    format!("{v:?} is not an integer from 1 to {}", mwindex::MAX_PAGE_SIZE),
                )),
            },
        }
    }

    /// `status`: active, upcoming or past.
    pub fn status(&self, name: &str) -> Result<Option<mwindex::Status>, ApiError> {
        use crate::openapi::StatusParam;
        self.single(name)?
            .map(|v| match v {
                "active" => Ok(StatusParam::Active),
                "upcoming" => Ok(StatusParam::Upcoming),
                "past" => Ok(StatusParam::Past),
                other => Err(ApiError::parameter(name, format!("{other:?} is not one of active, upcoming, past"))),
            })
            .transpose()
            .map(|s| s.map(mwindex::Status::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictness() {
        let known = ["a", "ids"];
        assert!(Params::parse(Some("b=1"), &known).is_err());
        let p = Params::parse(Some("a=1&a=2&ids=1&ids=2"), &known).expect("parse");
        assert!(p.single("a").is_err());
        assert_eq!(p.ids("ids").expect("ids"), Some(vec![1, 2]));
        let p = Params::parse(Some("a=&ids=x"), &known).expect("parse");
        assert!(p.single("a").is_err());
        assert!(p.ids("ids").is_err());
        let many = (0..=MAX_IDS).map(|i| format!("ids={i}")).collect::<Vec<_>>().join("&");
        assert!(Params::parse(Some(&many), &known).expect("parse").ids("ids").is_err());
        let p = Params::parse(Some("a=2024-01-01T00%3A00%3A00%2B02%3A00"), &known).expect("parse");
        assert!(p.timestamp("a").expect("ts").is_some());
    }
}
