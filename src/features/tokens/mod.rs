pub mod forms;
pub mod handlers;
pub mod views;
