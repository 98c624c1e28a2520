//! Looking without changing: what the commands and `ork ui` show beside the traks' own state.
//! Nothing here records an event or moves a ref (the forecast keeps a derived cache under
//! `.git/ork/`, design rule 4).

pub mod conflict_forecast;
pub mod doctor;
pub mod inspect;
