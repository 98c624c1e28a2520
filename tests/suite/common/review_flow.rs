//! A repository whose one flow, `feature`, has two stages reviewed by a human (`planning`, then
//! `work`), both run by the fake agent: the setting of the UI and notification tests.

use serde_json::Value;

use super::Sandbox;
use super::sandbox::fake_agent;

impl Sandbox {
    /// The flow, with `extra` TOML appended to the workflow, committed on `main`; the fake
    /// agent follows `stages` (the plan's `"stages"` object).
    pub fn review_flow(extra: &str, stages: Value) -> Sandbox {
        let workflow = format!(
            "default_flow = \"feature\"\n\n{}\n\
             [flows.feature]\ndescription = \"A test flow\"\n\n\
             [[flows.feature.stages]]\nname = \"planning\"\nagent = \"fake\"\nprompt = \"planner.md\"\nartifact = \"plan\"\nreview = \"human\"\n\n\
             [[flows.feature.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\nreview = \"human\"\n\n\
             {extra}\n",
            fake_agent("20s")
        );
        Sandbox::new(&workflow, stages)
    }
}
