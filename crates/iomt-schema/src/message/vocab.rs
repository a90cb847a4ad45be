//! Code lists shared by several messages.

use crate::open_enum::open_enum;

open_enum! {
    /// Standard identity of an object (APP-6 / MIL-STD-2525 affiliation).
    pub enum Affiliation (max 255) {
        /// Not yet assessed.
        Pending = 0 => "pending",
        /// Assessed, but not identified (APP-6 "unknown").
        Unidentified = 1 => "unknown",
        /// Believed friendly.
        AssumedFriend = 2 => "assumed_friend",
        /// Friendly.
        Friend = 3 => "friend",
        /// Neither supporting nor opposing.
        Neutral = 4 => "neutral",
        /// Believed hostile.
        Suspect = 5 => "suspect",
        /// Hostile.
        Hostile = 6 => "hostile",
    }
}

open_enum! {
    /// The role of a person or device in its unit.
    pub enum Role (max 255) {
        /// Rifleman.
        Rifleman = 0 => "rifleman",
        /// Team or squad leader.
        Leader = 1 => "leader",
        /// Medic.
        Medic = 2 => "medic",
        /// Radio operator.
        RadioOperator = 3 => "radio_operator",
        /// Machine gunner.
        Gunner = 4 => "gunner",
        /// Marksman or sniper.
        Marksman = 5 => "marksman",
        /// Engineer.
        Engineer = 6 => "engineer",
        /// Explosive ordnance disposal.
        Eod = 7 => "eod",
        /// CBRN specialist.
        Cbrn = 8 => "cbrn",
        /// Forward observer or joint terminal attack controller.
        Observer = 9 => "observer",
        /// Unmanned system operator.
        Operator = 10 => "operator",
        /// Vehicle driver.
        Driver = 11 => "driver",
        /// Commander.
        Commander = 12 => "commander",
        /// Logistics.
        Logistics = 13 => "logistics",
    }
}

open_enum! {
    /// What kind of device a node is.
    pub enum DeviceKind (max 255) {
        /// A soldier's body-worn hub.
        Soldier = 0 => "soldier",
        /// A wearable sensor (vitals, environment).
        Wearable = 1 => "wearable",
        /// A weapon-mounted sensor.
        WeaponSensor = 2 => "weapon_sensor",
        /// Unmanned ground vehicle.
        Ugv = 3 => "ugv",
        /// Unmanned aerial vehicle.
        Uav = 4 => "uav",
        /// Unmanned surface vessel.
        Usv = 5 => "usv",
        /// Unmanned underwater vehicle.
        Uuv = 6 => "uuv",
        /// Crewed vehicle.
        Vehicle = 7 => "vehicle",
        /// Unattended ground sensor.
        UnattendedSensor = 8 => "unattended_sensor",
        /// Radio relay.
        Relay = 9 => "relay",
        /// Command post.
        CommandPost = 10 => "command_post",
        /// Supply depot.
        SupplyDepot = 11 => "supply_depot",
        /// Gateway to another network.
        Gateway = 12 => "gateway",
    }
}
