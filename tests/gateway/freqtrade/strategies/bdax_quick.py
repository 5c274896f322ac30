"""BdaxQuick: a freqtrade strategy that trades as often as freqtrade allows, to exercise an exchange.

It is not a trading idea. It enters long on every closed 1m candle (any candle with a positive close)
and leaves at the next bot iteration: ``minimal_roi`` of -1 at minute 0 means "exit at any result".
freqtrade itself then locks the pair until the next candle ("Auto lock"), so each pair makes about one
round trip (an entry order and an exit order) per minute. Nothing here is bdax-specific: the same file
runs on Binance.
"""
from __future__ import annotations

from pandas import DataFrame

from freqtrade.strategy import IStrategy


class BdaxQuick(IStrategy):
    INTERFACE_VERSION = 3

    timeframe = "1m"
    can_short = False
    minimal_roi = {"0": -1}          # exit at the first iteration after the entry filled, at any price
    stoploss = -0.99                 # never the reason for an exit here
    trailing_stop = False
    process_only_new_candles = True
    use_exit_signal = False
    startup_candle_count = 0

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[dataframe["close"] > 0, ["enter_long", "enter_tag"]] = (1, "bdax_quick")
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe
